# vim: ft=sls
# The configuration server's cluster definition
# <home>/.layline/config-server/clusters/<cluster name>.json: one bootstrap
# node per engine (http://<hostname>:<rest port>, seed order). The directory
# belongs to the service user, so the state writes without following links.
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_config_server = tplroot ~ '.config.config_server' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}

include:
  - {{ sls_config_server }}

layline-cluster-layline-cluster_definition_managed:
  layline.cluster_definition_managed:
    - name: {{ (layline.home ~ '/.layline/config-server/clusters/' ~ layline.cluster.name ~ '.json') | json }}
    - user: {{ layline.user | json }}
    - group: {{ layline.group | json }}
    - require:
      - sls: {{ sls_config_server }}
