# vim: ft=sls
# Removes the installation and the cached installer. The service user, its
# group and its home (journal, logs: data) are kept.
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_service_clean = tplroot ~ '.service.clean' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}

include:
  - {{ sls_service_clean }}

layline-install-clean-file-absent:
  file.absent:
    - name: {{ layline.install_dir | json }}
    - require:
      - sls: {{ sls_service_clean }}

layline-install-clean-file-absent-cache:
  file.absent:
    - name: {{ layline.distribution.cache_dir | json }}
    - require:
      - sls: {{ sls_service_clean }}
