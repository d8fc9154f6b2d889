# vim: ft=sls
# Prometheus (Debian's `prometheus` package) on layline:monitoring:minion.
# prometheus.yml and the alert rules are built as data by layline_monitoring
# (targets from the same pillar as the cluster: a node added or removed
# changes them on the next apply) and checked by promtool before they
# replace the files in place; a change reloads Prometheus (SIGHUP), a new
# listen address restarts it. It listens on the monitoring machine's canonical
# address only (layline_monitoring.listen_address) and scrapes itself there; the
# firewall opens the port to layline:firewall:operators only.
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_validate = tplroot ~ '.validate' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set model = salt['layline.monitoring'](config=layline) %}
{%- set rules_file = '/etc/prometheus/layline.rules.yml' %}
{%- set listen = salt['layline_monitoring.listen_address']('monitoring', model.port) %}

include:
  - {{ sls_validate }}

layline-monitoring-prometheus-pkg-installed:
  pkg.installed:
    - name: prometheus
    - install_recommends: False
    - require:
      - sls: {{ sls_validate }}

layline-monitoring-prometheus-file-managed-defaults:
  file.managed:
    - name: /etc/default/prometheus
    - contents: {{ ('ARGS="--web.listen-address=%s"' % listen) | json }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - pkg: layline-monitoring-prometheus-pkg-installed

layline-monitoring-prometheus-file-managed-rules:
  file.managed:
    - name: {{ rules_file }}
    - contents: {{ salt['layline_monitoring.rules_text'](model) | json }}
    - user: root
    - group: root
    - mode: '0644'
    - check_cmd: promtool check rules
    - require:
      - pkg: layline-monitoring-prometheus-pkg-installed

layline-monitoring-prometheus-file-managed-config:
  file.managed:
    - name: /etc/prometheus/prometheus.yml
    - contents: {{ salt['layline_monitoring.config_text'](model, listen) | json }}
    - user: root
    - group: root
    - mode: '0644'
    - check_cmd: promtool check config
    - require:
      - file: layline-monitoring-prometheus-file-managed-rules

layline-monitoring-prometheus-service-running:
  service.running:
    - name: prometheus
    - enable: True
    - reload: True
    - watch:
      - file: layline-monitoring-prometheus-file-managed-rules
      - file: layline-monitoring-prometheus-file-managed-config

# the listen address is a command-line flag: a reload does not apply it
layline-monitoring-prometheus-module-run-restart:
  module.run:
    - service.restart:
      - name: prometheus
    - onchanges:
      - file: layline-monitoring-prometheus-file-managed-defaults
    - require:
      - service: layline-monitoring-prometheus-service-running
