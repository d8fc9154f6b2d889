# vim: ft=sls
# The layline database and its user, with saltext.mysql's states; Salt logs in
# as root through the server's unix socket (Debian MariaDB's default
# unix_socket authentication; RHEL's MySQL root@localhost without password).
# - database layline:database:name, utf8mb4 / utf8mb4_unicode_ci
# - user layline:database:user for each account of layline_db.accounts: the
#   config server owns the schema (DML + CREATE, ALTER, INDEX, REFERENCES), the
#   engines get SELECT, INSERT, UPDATE, DELETE on <name>.*; hosts are the
#   canonical addresses (skip-name-resolve), or hostnames, or allowed_hosts;
#   broader grants are revoked (layline_db.privileges_reduced); REQUIRE SSL with
#   layline:database:tls verify-identity (REQUIRE NONE when disabled); the states
#   never see the password (layline_db.account_present computes its MySQL
#   native hash inside the state, on this minion)
# - accounts of that user for hosts no longer allowed (a node removed from
#   layline:cluster:nodes) are dropped; other users are never touched
# - hardening: no anonymous users, no `test` database, root only local.
# - the states log in as layline_db.root_connection says: root through the
#   socket, verifying the server against the cluster CA with database TLS.
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/synced.jinja" import synced, sync_hint with context %}
{%- if not synced %}{{ raise(sync_hint) }}{%- endif %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set db = layline.database %}
{%- set local_hosts = ['localhost', '127.0.0.1', '::1'] %}
{%- set own_names = [grains.get('fqdn'), grains.get('host'), grains.get('nodename')]
                    | select | unique | list %}
{#- root through the socket; with database TLS the driver trusts the cluster CA only #}
{%- set conn = salt['layline_db.root_connection'](config=layline) %}
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

{%- set accounts = salt['layline_db.accounts']() %}
{%- if accounts | selectattr('host', 'equalto', '%') | list %}

layline-mysql-test-show_notification-any-host:
  test.show_notification:
    - text: >-
        layline:database:allowed_hosts lists '%': the layline account accepts a
        login from any host that reaches the server, so a leaked password is
        usable from anywhere; list the clients' IPs or CIDRs instead.
{%- endif %}
{%- for account in accounts %}
{%-   set host = account.host %}

layline-mysql-layline_db-account_present-{{ host }}:
  layline_db.account_present:
    - name: {{ db.user | json }}
    - host: {{ host | json }}
    # the password's hash is computed inside the state: never state data or a return
{{- connection() }}

{#- an account with broader grants (e.g. ALL PRIVILEGES from an older formula) is reduced #}
layline-mysql-layline_db-privileges_reduced-{{ host }}:
  layline_db.privileges_reduced:
    - name: {{ db.user | json }}
    - host: {{ host | json }}
    - database: {{ db.name | json }}
    - privileges: {{ account.privileges | json }}
{{- connection() }}
      - layline_db: layline-mysql-layline_db-account_present-{{ host }}

layline-mysql-mysql_grants-present-{{ host }}:
  mysql_grants.present:
    - grant: {{ account.privileges | join(',') | json }}
    - database: {{ (db.name ~ '.*') | json }}
    - user: {{ db.user | json }}
    - host: {{ host | json }}
{{- connection() }}
      - mysql_database: layline-mysql-mysql_database-present
      - layline_db: layline-mysql-layline_db-account_present-{{ host }}
      - layline_db: layline-mysql-layline_db-privileges_reduced-{{ host }}

layline-mysql-layline_db-account_tls-{{ host }}:
  layline_db.account_tls:
    - name: {{ db.user | json }}
    - host: {{ host | json }}
    - required: {{ salt['layline.db_tls'](config=layline) | json }}
{{- connection() }}
      - layline_db: layline-mysql-layline_db-account_present-{{ host }}
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
