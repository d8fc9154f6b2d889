# vim: ft=sls
# Configuration server: <install_dir>/config/config-server/application.conf
# (rendered on the minion by layline.render; root:<group> 0640) and its
# writable directories under <home>/.layline/config-server.
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_install = tplroot ~ '.install' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set base = layline.home ~ '/.layline/config-server' %}

include:
  - {{ sls_install }}
  - {{ tplroot }}.python

layline-config-file-directory-config-server:
  file.directory:
    - names:
      - {{ layline.home }}/.layline
      - {{ base }}
      - {{ base }}/log
      - {{ base }}/database
      - {{ base }}/clusters
    - user: {{ layline.user }}
    - group: {{ layline.group }}
    - mode: '0750'
    - require:
      - sls: {{ sls_install }}

layline-config-layline-config_managed-config-server:
  layline.config_managed:
    - name: {{ layline.install_dir }}/config/config-server/application.conf
    - role: config-server
    - config: {{ layline | json }}
    - user: root
    - group: {{ layline.group }}
    - mode: '0640'
    - require:
      - sls: {{ sls_install }}
      - sls: {{ tplroot }}.python
