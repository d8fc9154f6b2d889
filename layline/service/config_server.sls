# vim: ft=sls
# layline-config-server.service. The configuration server is no cluster
# member: it restarts whenever its installation, configuration or cluster
# definition changes.
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_install = tplroot ~ '.install' %}
{%- set sls_config = tplroot ~ '.config.config_server' %}
{%- set sls_cluster = tplroot ~ '.cluster' %}
{%- set sls_schema = tplroot ~ '.schema' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- from tplroot ~ "/synced.jinja" import synced, sync_hint with context %}
{%- if not synced %}{{ raise(sync_hint) }}{%- endif %}
{%- set roles = salt['layline.roles'](config=layline) %}
{%- set mysql = layline.database.backend == 'mysql' %}
{%- set after = ['network-online.target'] %}
{%- if 'database' in roles %}
{%-   do after.append(layline.database.service ~ '.service') %}
{%- endif %}
{%- set unit = '/etc/systemd/system/layline-config-server.service' %}

include:
  - {{ sls_install }}
  - {{ sls_config }}
  - {{ sls_cluster }}
{%- if mysql %}
  - {{ sls_schema }}
{%- endif %}

layline-service-file-managed-config-server:
  file.managed:
    - name: {{ unit }}
    - source: salt://{{ tplroot }}/service/files/layline.service.jinja
    - template: jinja
    - user: root
    - group: root
    - mode: '0644'
    - context:
        description: layline.io configuration server
        user: {{ layline.user | json }}
        group: {{ layline.group | json }}
        home: {{ layline.home | json }}
        exec_start: {{ [layline.install_dir ~ '/current/bin/config-server'] | json }}
        exec_start_pre: []
        after: {{ after | json }}
        protect_home: {{ not (layline.home.startswith('/home') or layline.home.startswith('/root')) }}
    - require:
      - sls: {{ sls_install }}

layline-service-cmd-run-daemon-reload-config-server:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: layline-service-file-managed-config-server

layline-service-service-running-config-server:
  service.running:
    - name: layline-config-server
    - enable: True
    - require:
      - cmd: layline-service-cmd-run-daemon-reload-config-server
{%- if mysql %}
      - sls: {{ sls_schema }}
{%- endif %}
    - watch:
      - file: layline-service-file-managed-config-server
      - sls: {{ sls_install }}
      - sls: {{ sls_config }}
      - sls: {{ sls_cluster }}
