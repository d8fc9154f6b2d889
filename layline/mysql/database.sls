# vim: ft=sls
# The layline database and its user, with saltext.mysql's states; Salt logs in
# as root through the server's unix socket (Debian MariaDB's default
# unix_socket authentication; RHEL's MySQL root@localhost without password).
# - database layline:database:name, utf8mb4 / utf8mb4_unicode_ci
# - user layline:database:user for each host of layline_db.allowed_hosts
#   (layline:database:allowed_hosts, default: config server and node hostnames),
#   ALL PRIVILEGES on <name>.*, REQUIRE SSL with layline:database:tls
#   verify-identity (REQUIRE NONE when disabled); the states get the password's MySQL native hash
#   (layline_db.password_hash, computed on this minion), never the password
# - accounts of that user for hosts no longer allowed (a node removed from
#   layline:cluster:nodes) are dropped; other users are never touched
# - hardening: no anonymous users, no `test` database, root only local.
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/synced.jinja" import synced, sync_hint with context %}
{%- if not synced %}{{ raise(sync_hint) }}{%- endif %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set db = layline.database %}
{%- set local_hosts = ['localhost', '127.0.0.1', '::1'] %}
{%- set own_names = [grains.get('fqdn'), grains.get('host'), grains.get('nodename')]
                    | select | unique | list %}
{%- set conn = {
      'connection_unix_socket': db.socket,
      'connection_host': 'localhost',
      'connection_user': 'root',
      'connection_pass': '',
      'connection_charset': 'utf8',
    } %}
{%- macro connection() %}
{%-   for key, value in conn | dictsort %}
    - {{ key }}: {{ value | json }}
{%-   endfor %}
    - require:
      - sls: {{ tplroot }}.python
      - sls: {{ tplroot }}.mysql.server
{%- endmacro %}

include:
  - {{ tplroot }}.python
  - {{ tplroot }}.mysql.server

layline-mysql-mysql_database-present:
  mysql_database.present:
    - name: {{ db.name | json }}
    - character_set: utf8mb4
    - collate: utf8mb4_unicode_ci
{{- connection() }}

{%- for host in salt['layline_db.allowed_hosts']() %}

layline-mysql-mysql_user-present-{{ host }}:
  mysql_user.present:
    - name: {{ db.user | json }}
    - host: {{ host | json }}
    - password_hash: {{ salt['layline_db.password_hash']() | json }}
    # Salt 3008: name, comment and changes of this state are masked in its return
    - no_log: True
{{- connection() }}

layline-mysql-mysql_grants-present-{{ host }}:
  mysql_grants.present:
    - grant: ALL PRIVILEGES
    - database: {{ (db.name ~ '.*') | json }}
    - user: {{ db.user | json }}
    - host: {{ host | json }}
{{- connection() }}
      - mysql_database: layline-mysql-mysql_database-present
      - mysql_user: layline-mysql-mysql_user-present-{{ host }}

layline-mysql-layline_db-account_tls-{{ host }}:
  layline_db.account_tls:
    - name: {{ db.user | json }}
    - host: {{ host | json }}
    - required: {{ salt['layline.db_tls'](config=layline) | json }}
{{- connection() }}
      - mysql_user: layline-mysql-mysql_user-present-{{ host }}
{%- endfor %}

{%- for host in salt['layline_db.stale_hosts'](**conn) %}

layline-mysql-mysql_user-absent-stale-{{ host }}:
  mysql_user.absent:
    - name: {{ db.user | json }}
    - host: {{ host | json }}
{{- connection() }}
{%- endfor %}

{%- for host in (local_hosts[:1] + own_names) | unique %}

layline-mysql-mysql_user-absent-anonymous-{{ host }}:
  mysql_user.absent:
    - name: ''
    - host: {{ host | json }}
{{- connection() }}
{%- endfor %}

{%- for host in (['%'] + own_names) | unique if host not in local_hosts %}

layline-mysql-mysql_user-absent-root-{{ host }}:
  mysql_user.absent:
    - name: root
    - host: {{ host | json }}
{{- connection() }}
{%- endfor %}

layline-mysql-mysql_database-absent-test:
  mysql_database.absent:
    - name: test
{{- connection() }}
