# vim: ft=sls
# Removes both application.conf files (after the services are stopped).
# Logs and databases under <home>/.layline stay.
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_service_clean = tplroot ~ '.service.clean' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}

include:
  - {{ sls_service_clean }}

layline-config-clean-file-absent:
  file.absent:
    - names:
      - {{ layline.install_dir }}/current/config/config-server/application.conf
      - {{ layline.home }}/.layline/reactive-engine/config/application.conf
    - require:
      - sls: {{ sls_service_clean }}
