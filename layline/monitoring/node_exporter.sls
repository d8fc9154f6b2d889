# vim: ft=sls
# prometheus-node-exporter on the database minion when the monitoring role is
# on: Prometheus scrapes it for the backup's freshness, the gauge
# layline_backup_last_success_timestamp_seconds that the backup service
# writes to layline_backup.prom in layline:backup:textfile_dir (Debian's
# textfile directory by default). It listens on the database machine's
# canonical address only (layline_monitoring.listen_address database); the
# firewall opens monitoring:node_exporter_port to the monitoring minion and
# layline:firewall:scrape.
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_validate = tplroot ~ '.validate' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set model = salt['layline.monitoring'](config=layline) %}
{%- set listen = salt['layline_monitoring.listen_address'](
      'database', layline.monitoring.node_exporter_port) %}
{%- set args = '--web.listen-address=%s --collector.textfile.directory=%s'
               % (listen, model.textfile_dir) %}

include:
  - {{ sls_validate }}

layline-monitoring-node_exporter-pkg-installed:
  pkg.installed:
    - name: prometheus-node-exporter
    - install_recommends: False
    - require:
      - sls: {{ sls_validate }}

layline-monitoring-node_exporter-file-managed-defaults:
  file.managed:
    - name: /etc/default/prometheus-node-exporter
    - contents: {{ ('ARGS="%s"' % args) | json }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - pkg: layline-monitoring-node_exporter-pkg-installed

layline-monitoring-node_exporter-service-running:
  service.running:
    - name: prometheus-node-exporter
    - enable: True
    - watch:
      - file: layline-monitoring-node_exporter-file-managed-defaults
