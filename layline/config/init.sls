# vim: ft=sls
# application.conf of each role this minion has (layline.roles).
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set roles = salt['layline.roles'](config=layline) %}

include:
  - {{ tplroot }}.install
{%- if 'config-server' in roles %}
  - {{ tplroot }}.config.config_server
{%- endif %}
{%- if 'engine' in roles %}
  - {{ tplroot }}.config.engine
{%- endif %}
