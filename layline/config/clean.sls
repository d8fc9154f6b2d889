# vim: ft=sls
# Removes both application.conf files (after the services are stopped).
# Logs and databases under <home>/.layline stay.
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_validate = tplroot ~ '.validate.clean' %}
{%- set sls_service_clean = tplroot ~ '.service.clean' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}

include:
  - {{ sls_validate }}
  - {{ sls_service_clean }}

layline-config-clean-file-absent:
  file.absent:
    - names:
      - {{ (layline.install_dir ~ '/current/config/config-server/application.conf') | json }}
      - {{ (layline.config_dir ~ '/reactive-engine') | json }}
    - require:
      - sls: {{ sls_validate }}
      - sls: {{ sls_service_clean }}
