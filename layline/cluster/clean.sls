# vim: ft=sls
# Removes the cluster definition this formula manages.
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_service_clean = tplroot ~ '.service.clean' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}

include:
  - {{ sls_service_clean }}

layline-cluster-clean-file-absent:
  file.absent:
    - name: {{ layline.home }}/.layline/config-server/clusters/{{ layline.cluster.name }}.json
    - require:
      - sls: {{ sls_service_clean }}
