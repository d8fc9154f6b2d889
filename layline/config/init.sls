# vim: ft=sls
# application.conf of each role this minion has (layline.roles).
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- from tplroot ~ "/synced.jinja" import synced, sync_hint with context %}
{%- if not synced %}{{ raise(sync_hint) }}{%- endif %}
{%- set roles = salt['layline.roles'](config=layline) %}

include:
  - {{ tplroot }}.python
  - {{ tplroot }}.install
{%- if 'config-server' in roles %}
  - {{ tplroot }}.config.config_server
{%- endif %}
{%- if 'engine' in roles %}
  - {{ tplroot }}.config.engine
{%- endif %}
