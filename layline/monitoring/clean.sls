# vim: ft=sls
# Inverse of layline.monitoring that keeps data: stops and disables
# Prometheus and the node exporter and removes layline's alert rules. The
# packages, /etc/prometheus/prometheus.yml (a package conffile) and the
# metrics in /var/lib/prometheus stay.
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_validate = tplroot ~ '.validate.clean' %}

include:
  - {{ sls_validate }}

layline-monitoring-clean-service-dead:
  service.dead:
    - names:
      - prometheus
      - prometheus-node-exporter
    - enable: False
    - require:
      - sls: {{ sls_validate }}

layline-monitoring-clean-file-absent-rules:
  file.absent:
    - name: /etc/prometheus/layline.rules.yml
    - require:
      - service: layline-monitoring-clean-service-dead
