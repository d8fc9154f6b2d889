# vim: ft=sls
# The MySQL/MariaDB server of the layline database: package, a config file
# with bind-address (the database's canonical address unless
# layline:database:bind_address or layline:network:bind_any), skip-name-resolve
# and port (a change restarts the server), service.
# With layline:database:tls verify-identity the server presents this node's
# certificate from layline.tls (ssl_cert/ssl_key/ssl_ca) and refuses any client
# that is not on TLS or the local socket (require_secure_transport); a change of
# the certificates restarts it.
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/synced.jinja" import synced, sync_hint with context %}
{%- if not synced %}{{ raise(sync_hint) }}{%- endif %}
{%- set sls_tls = tplroot ~ '.tls' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set db = layline.database %}
{%- set tls = salt['layline.db_tls'](config=layline)
              and salt['layline.tls_plan'](config=layline).enabled %}
{%- set paths = salt['layline.tls_paths'](config=layline) %}
{#- states of layline.tls by ID: an sls requisite would also take in the SLS files it
    includes (this one among them on a database-only minion) #}
{%- set tls_files = ['layline-tls-layline_tls-private_key_managed', 'layline-tls-layline_tls-certificate_managed'] %}
{%- set roles = salt['layline.roles'](config=layline) %}
{#- on a minion that also runs layline, the TLS directory is the service group's: the
    server's account joins that group to reach node.key (the service group's on an
    engine, mysql's beside a config server alone) #}
{%- set key_reader = tls and ('config-server' in roles or 'engine' in roles) %}

include:
  - {{ tplroot }}.validate
{%- if tls %}
  - {{ sls_tls }}
{%- endif %}
{%- if key_reader %}
  - {{ tplroot }}.install
{%- endif %}

layline-mysql-pkg-installed:
  pkg.installed:
    - pkgs:
      - {{ db.server_package }}
{%- if db.client_package %}
      - {{ db.client_package }}
{%- endif %}
    - require:
      - sls: {{ tplroot }}.validate

{%- if key_reader %}

layline-mysql-group-present-key-reader:
  group.present:
    - name: {{ layline.group | json }}
    - addusers:
      - mysql  # the server account (Debian and RedHat)
    - require:
      - pkg: layline-mysql-pkg-installed
      - group: layline-install-group-present
{%- endif %}

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
        bind_address: {{ salt['layline.bind_address']('database', config=layline) | json }}
        skip_name_resolve: {{ db.skip_name_resolve is not sameas false }}
        port: {{ db.port | json }}
        socket: {{ db.socket | json }}
        tls: {{ (paths if tls else {}) | json }}
    - require:
      - pkg: layline-mysql-pkg-installed
{%- for id in tls_files if tls %}
      - layline_tls: {{ id }}
{%- endfor %}

layline-mysql-service-running:
  service.running:
    - name: {{ db.service | json }}
    - enable: True
    - watch:
      - file: layline-mysql-file-managed-server-config
{%- for id in tls_files if tls %}
      - layline_tls: {{ id }}
{%- endfor %}
{%- if key_reader %}
      - group: layline-mysql-group-present-key-reader
{%- endif %}
    - require:
      - pkg: layline-mysql-pkg-installed
