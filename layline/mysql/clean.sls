# vim: ft=sls
# Inverse of layline.mysql that never loses data: stops and disables the
# server and removes the layline server config file. The database, its
# user, the data directory and the packages stay (drop them by hand if you
# really mean it: `DROP DATABASE <name>; DROP USER ...`).
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_validate = tplroot ~ '.validate.clean' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set db = layline.database %}

include:
  - {{ sls_validate }}

layline-mysql-clean-service-dead:
  service.dead:
    - name: {{ db.service | json }}
    - enable: False
    - require:
      - sls: {{ sls_validate }}

layline-mysql-clean-file-absent-server-config:
  file.absent:
    - name: {{ db.server_config | json }}
    - require:
      - service: layline-mysql-clean-service-dead
