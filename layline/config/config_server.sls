# vim: ft=sls
# Configuration server: <install_dir>/config/config-server/application.conf
# (root-owned install tree), root:<group> 0640, rendered and written on the
# minion by layline.config_managed. The server creates its own log and
# database directories under the service user's home.
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_install = tplroot ~ '.install' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}

include:
  - {{ sls_install }}
  - {{ tplroot }}.python

layline-config-layline-config_managed-config-server:
  layline.config_managed:
    - name: {{ (layline.install_dir ~ '/config/config-server/application.conf') | json }}
    - role: config-server
    - group: {{ layline.group | json }}
    - require:
      - sls: {{ sls_install }}
      - sls: {{ tplroot }}.python
