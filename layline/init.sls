# vim: ft=sls
# Everything this minion's roles need (layline.roles of the configuration
# model): validation first; then the Python libraries of the formula's modules
# (layline.python), the TLS certificates (layline.tls), MySQL and its backup
# timer (database), the distribution and its configuration
# (config server, engine), the schema (config server with the MySQL backend),
# the firewall of the guide's port table (layline.firewall; its clean SLS when
# layline:firewall:enabled is false),
# the cluster definition and the services; a layline service this minion no
# longer has a role for is decommissioned; with layline:monitoring:minion set,
# Prometheus on that minion and the node exporter on the database minion.
# Without the formula's custom modules on the minion (no saltutil.sync_all
# yet) it renders one failing state that says so, and changes nothing.
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/synced.jinja" import synced, sync_hint with context %}
{%- if not synced %}

layline-init-test-fail_without_changes:
  test.fail_without_changes:
    - name: {{ sync_hint | json }}
    - comment: {{ sync_hint | json }}
    - failhard: True
{%- else %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set roles = salt['layline.roles'](config=layline) %}
{%- set runs_layline = 'config-server' in roles or 'engine' in roles %}
{%- set retired = salt['layline.retired_units'](config=layline) %}
{%- set firewall = roles and salt['layline_firewall.active'](config=layline) %}

include:
  - {{ tplroot }}.validate
{%- if roles %}
  - {{ tplroot }}.python
  - {{ tplroot }}.tls
{%- endif %}
{%- if firewall %}
  - {{ tplroot }}.firewall
{%- elif roles and layline.firewall.enabled is sameas false %}
  - {{ tplroot }}.firewall.clean
{%- endif %}
{%- if 'database' in roles %}
  - {{ tplroot }}.mysql
  - {{ tplroot }}.backup{{ '' if layline.backup.enabled else '.clean' }}
{%- endif %}
{%- if runs_layline %}
  - {{ tplroot }}.install
  - {{ tplroot }}.config
{%- endif %}
{%- if 'config-server' in roles and layline.database.backend == 'mysql' %}
  - {{ tplroot }}.schema
{%- endif %}
{%- if 'config-server' in roles %}
  - {{ tplroot }}.cluster
{%- endif %}
{%- if runs_layline %}
  - {{ tplroot }}.service
{%- endif %}
{%- if retired %}
  - {{ tplroot }}.decommission
{%- endif %}
{%- if layline.monitoring.minion and ('monitoring' in roles or 'database' in roles) %}
  - {{ tplroot }}.monitoring
{%- endif %}
{%- endif %}
