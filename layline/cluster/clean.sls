# vim: ft=sls
# Removes the cluster definition this formula manages (without following links:
# the directory belongs to the service user).
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_validate = tplroot ~ '.validate.clean' %}
{%- set sls_service_clean = tplroot ~ '.service.clean' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}

include:
  - {{ sls_validate }}
  - {{ sls_service_clean }}

layline-cluster-clean-layline-cluster_definition_absent:
  layline.cluster_definition_absent:
    - name: {{ (layline.home ~ '/.layline/config-server/clusters/' ~ layline.cluster.name ~ '.json') | json }}
    - require:
      - sls: {{ sls_validate }}
      - sls: {{ sls_service_clean }}
