# vim: ft=sls
# systemd units of the roles this minion has (layline.roles), enabled and running.
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- from tplroot ~ "/synced.jinja" import synced, sync_hint with context %}
{%- if not synced %}{{ raise(sync_hint) }}{%- endif %}
{%- set roles = salt['layline.roles'](config=layline) %}

include:
  - {{ tplroot }}.validate
{%- if 'config-server' in roles %}
  - {{ tplroot }}.service.config_server
{%- endif %}
{%- if 'engine' in roles %}
  - {{ tplroot }}.service.engine
{%- endif %}
