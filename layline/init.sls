# vim: ft=sls
# Everything this minion's roles need (layline.roles of the configuration
# model): validation first; then MySQL (database), the distribution and its
# configuration (config server, engine), the schema (config server with the
# MySQL backend), the cluster definition and the services.
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set roles = salt['layline.roles'](config=layline) %}
{%- set runs_layline = 'config-server' in roles or 'engine' in roles %}

include:
  - {{ tplroot }}.validate
{%- if 'database' in roles %}
  - {{ tplroot }}.mysql
{%- endif %}
{%- if runs_layline %}
  - {{ tplroot }}.install
  - {{ tplroot }}.config
{%- endif %}
{%- if 'config-server' in roles and layline.database.backend == 'mysql' %}
  - {{ tplroot }}.schema
{%- endif %}
{%- if 'config-server' in roles %}
  - {{ tplroot }}.cluster
{%- endif %}
{%- if runs_layline %}
  - {{ tplroot }}.service
{%- endif %}
