# vim: ft=sls
# Reactive engine: <home>/.layline/reactive-engine/config/application.conf
# (rendered on the minion by layline.render; root:<group> 0640) and its
# writable directories (log, database).
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_install = tplroot ~ '.install' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set base = layline.home ~ '/.layline/reactive-engine' %}

include:
  - {{ sls_install }}
  - {{ tplroot }}.python

layline-config-file-directory-engine:
  file.directory:
    - names:
      - {{ layline.home }}/.layline
      - {{ base }}
      - {{ base }}/config
      - {{ base }}/log
      - {{ base }}/database
    - user: {{ layline.user }}
    - group: {{ layline.group }}
    - mode: '0750'
    - require:
      - sls: {{ sls_install }}

layline-config-layline-config_managed-engine:
  layline.config_managed:
    - name: {{ base }}/config/application.conf
    - role: reactive-engine
    - config: {{ layline | json }}
    - user: root
    - group: {{ layline.group }}
    - mode: '0640'
    - require:
      - file: layline-config-file-directory-engine
      - sls: {{ tplroot }}.python
