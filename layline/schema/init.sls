# vim: ft=sls
# The pekko-persistence-jdbc tables (event_journal, event_tag, snapshot) in the
# layline database, from the DDL the installer ships. Runs on the config
# server minion with layline:database:backend mysql. Waits (bounded by
# layline:database:wait_timeout) until the database accepts the layline
# user's login - on a first deployment the database minion may still be
# starting - then creates only what is missing: existing tables and their
# rows are never touched (the DDL itself is not idempotent).
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set db = layline.database %}

{%- if db.backend == 'mysql' %}
{#- the CA certificate of layline.tls by ID: an sls requisite would also take in the SLS
    files layline.tls includes #}
{%- set tls_plan = salt['layline.tls_plan'](config=layline) %}
{%- set ca_state = ('layline_tls: layline-tls-layline_tls-certificate_managed-ca' if tls_plan.is_ca
                    else 'layline_tls: layline-tls-layline_tls-ca_certificate_present') %}
{%- set db_tls = salt['layline.db_tls'](config=layline) and tls_plan.enabled %}

include:
  - {{ tplroot }}.python
  - {{ tplroot }}.install
{%- if db_tls %}
  - {{ tplroot }}.tls
{%- endif %}

layline-schema-layline_db-reachable:
  layline_db.reachable:
    - name: {{ db.name | json }}
    - timeout: {{ db.wait_timeout | json }}
    # a login costs milliseconds: poll often, so the engines start as soon as it works
    - interval: 1
    - require:
      - sls: {{ tplroot }}.python
{%- if db_tls %}
      # Salt's own connection verifies the server against the cluster CA
      - {{ ca_state }}
{%- endif %}

layline-schema-layline_db-schema_present:
  layline_db.schema_present:
    - name: {{ (salt['layline_release.paths'](layline.install_dir, layline.version).release
                ~ '/scripts/sql/mysql/persistence-schema.sql') | json }}
    # A connection lost between the two states: try again a few times.
    - retry:
        attempts: 3
        interval: 10
    - require:
      - sls: {{ tplroot }}.install
      - layline_db: layline-schema-layline_db-reachable
{%- else %}

layline-schema-test-nop:
  test.nop:
    - name: layline:database:backend is {{ db.backend }}, no MySQL schema to create
{%- endif %}
