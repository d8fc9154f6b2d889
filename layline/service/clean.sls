# vim: ft=sls
# Stops and disables both services, removes their units and the restart marker.
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_validate = tplroot ~ '.validate.clean' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}

include:
  - {{ sls_validate }}

layline-service-clean-service-dead:
  service.dead:
    - names:
      - layline-reactive-engine
      - layline-config-server
    - enable: False
    - require:
      - sls: {{ sls_validate }}

layline-service-clean-file-absent:
  file.absent:
    - names:
      - /etc/systemd/system/layline-reactive-engine.service
      - /etc/systemd/system/layline-config-server.service
      - /var/lib/layline-formula/pending/layline-reactive-engine.json
      - /var/lib/layline-formula/pending/layline-config-server.json
      - /usr/local/lib/layline-formula/seed-gate
    - require:
      - service: layline-service-clean-service-dead

layline-service-clean-cmd-run-daemon-reload:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: layline-service-clean-file-absent
