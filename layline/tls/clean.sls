# vim: ft=sls
# Removes this minion's certificate directory <config_dir>/tls (node key,
# certificate, CA certificate) after the services are stopped. The CA
# (<config_dir>/ca on the CA minion) stays: without it every certificate of
# the cluster would be issued anew. Not part of layline.clean (MariaDB may
# still use the files): apply layline.tls.clean explicitly.
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_validate = tplroot ~ '.validate.clean' %}
{%- set sls_service_clean = tplroot ~ '.service.clean' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}

include:
  - {{ sls_validate }}
  - {{ sls_service_clean }}

layline-tls-clean-file-absent:
  file.absent:
    - name: {{ (layline.config_dir ~ '/tls') | json }}
    - require:
      - sls: {{ sls_validate }}
      - sls: {{ sls_service_clean }}
