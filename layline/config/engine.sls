# vim: ft=sls
# Reactive engine: <config_dir>/reactive-engine/application.conf (default
# /etc/layline/reactive-engine), root:<group>, directories 0750 and the file
# 0640, rendered and written on the minion by layline.config_managed; the unit
# passes the directory with -J-Dlayline.configDirectory. Nothing is written
# under the service user's home: the engine creates its own log and database
# directories there.
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_install = tplroot ~ '.install' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set config_dir = layline.config_dir ~ '/reactive-engine' %}

include:
  - {{ sls_install }}
  - {{ tplroot }}.python
  - {{ tplroot }}.tls
  - {{ tplroot }}.config.truststore

layline-config-file-directory-engine:
  file.directory:
    - names:
      - {{ layline.config_dir | json }}
      - {{ config_dir | json }}
    - user: root
    - group: {{ layline.group | json }}
    - mode: '0750'
    - follow_symlinks: False
    - allow_symlink: False
    - require:
      - sls: {{ sls_install }}

layline-config-layline-config_managed-engine:
  layline.config_managed:
    - name: {{ (config_dir ~ '/application.conf') | json }}
    - role: reactive-engine
    - group: {{ layline.group | json }}
    - require:
      - file: layline-config-file-directory-engine
      - sls: {{ tplroot }}.python
      # Artery over mutual TLS reads the node's key and certificates
      - sls: {{ tplroot }}.tls
      - sls: {{ tplroot }}.config.truststore
