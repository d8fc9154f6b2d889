# vim: ft=sls
# Optional monitoring role (layline:monitoring:minion set): Prometheus from
# the distribution's packages on the monitoring minion (layline.monitoring.
# prometheus) and the node exporter on the database minion, which publishes
# the backup's freshness (layline.monitoring.node_exporter).
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- from tplroot ~ "/synced.jinja" import synced, sync_hint with context %}
{%- if not synced %}{{ raise(sync_hint) }}{%- endif %}
{%- set roles = salt['layline.roles'](config=layline) %}
{%- set model = salt['layline.monitoring'](config=layline) %}

include:
  - {{ tplroot }}.validate
{%- if 'monitoring' in roles %}
  - {{ tplroot }}.monitoring.prometheus
{%- endif %}
{%- if model and model.node_exporter and model.node_exporter.minion == grains['id'] %}
  - {{ tplroot }}.monitoring.node_exporter
{%- endif %}
