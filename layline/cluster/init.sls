# vim: ft=sls
# The configuration server's cluster definition
# <home>/.layline/config-server/clusters/<cluster name>.json: one bootstrap
# node per engine (http://<hostname>:<rest port>, seed order).
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_config_server = tplroot ~ '.config.config_server' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}

include:
  - {{ sls_config_server }}

layline-cluster-layline-cluster_definition_managed:
  layline.cluster_definition_managed:
    - name: {{ layline.home }}/.layline/config-server/clusters/{{ layline.cluster.name }}.json
    - config: {{ layline | json }}
    - user: {{ layline.user }}
    - group: {{ layline.group }}
    - mode: '0640'
    - require:
      - sls: {{ sls_config_server }}
