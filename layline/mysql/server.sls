# vim: ft=sls
# The MySQL/MariaDB server of the layline database: package, a config file
# with bind-address and port (a change restarts the server), service.
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set db = layline.database %}

include:
  - {{ tplroot }}.validate

layline-mysql-pkg-installed:
  pkg.installed:
    - pkgs:
      - {{ db.server_package }}
{%- if db.client_package %}
      - {{ db.client_package }}
{%- endif %}
    - require:
      - sls: {{ tplroot }}.validate

layline-mysql-file-managed-server-config:
  file.managed:
    - name: {{ db.server_config | json }}
    - source: salt://{{ tplroot }}/mysql/files/layline.cnf.jinja
    - template: jinja
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
    - context:
        bind_address: {{ db.bind_address | json }}
        port: {{ db.port | json }}
        socket: {{ db.socket | json }}
    - require:
      - pkg: layline-mysql-pkg-installed

layline-mysql-service-running:
  service.running:
    - name: {{ db.service | json }}
    - enable: True
    - watch:
      - file: layline-mysql-file-managed-server-config
    - require:
      - pkg: layline-mysql-pkg-installed
