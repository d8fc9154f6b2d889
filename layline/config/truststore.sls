# vim: ft=sls
# The JDBC truststore of the config server and the engines: with the MySQL backend and
# layline:database:tls verify-identity, <tls dir>/truststore.jks (a JKS holding the
# cluster CA of layline.tls; Connector/J's trustCertificateKeyStoreUrl), root:<group>
# 0640, written from data on the minion (no JDK needed). Its password is public (README).
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_tls = tplroot ~ '.tls' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- from tplroot ~ "/synced.jinja" import synced, sync_hint with context %}
{%- if not synced %}{{ raise(sync_hint) }}{%- endif %}
{%- set paths = salt['layline.tls_paths'](config=layline) %}
{%- if salt['layline.db_tls'](config=layline) and salt['layline.tls_plan'](config=layline).enabled %}
{#- the CA certificate of layline.tls by ID: an sls requisite would also take in the SLS
    files layline.tls includes #}
{%- set tls_plan = salt['layline.tls_plan'](config=layline) %}
{%- set ca_state = ('layline_tls: layline-tls-layline_tls-certificate_managed-ca' if tls_plan.is_ca
                    else 'layline_tls: layline-tls-layline_tls-ca_certificate_present') %}

include:
  - {{ sls_tls }}
  - {{ tplroot }}.python

layline-config-truststore-layline_db-truststore_present:
  layline_db.truststore_present:
    - name: {{ paths.truststore | json }}
    - ca: {{ paths.ca | json }}
    - user: root
    - group: {{ layline.group | json }}
    - mode: '0640'
    - require:
      - {{ ca_state }}
      - sls: {{ tplroot }}.python
{%- else %}

layline-config-truststore-test-nop:
  test.nop:
    - name: no JDBC truststore (backend {{ layline.database.backend }}, database:tls {{ layline.database.tls }})
{%- endif %}
