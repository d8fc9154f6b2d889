# vim: ft=sls
# A machine that still runs a layline service its pillar no longer gives it:
# removed from layline:cluster:nodes (or no longer layline:config_server:minion)
# of a multi-node pillar (layline.retired_units; never in the single-host
# default, where every minion has both roles). The engine leaves the cluster
# gracefully: service.dead stops the unit with SIGTERM, Pekko's coordinated
# shutdown makes the member leave (exit 143), it is never downed. The unit is
# disabled and its restart marker removed; the installation, the configuration
# and the data stay (layline.clean removes the installation).
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set units = salt['layline.retired_units'](config=layline) %}

include:
  - {{ tplroot }}.validate
{%- for unit in units %}

layline-decommission-service-dead-{{ unit }}:
  service.dead:
    - name: {{ unit | json }}
    - enable: False
    - require:
      - sls: {{ tplroot }}.validate

layline-decommission-file-absent-marker-{{ unit }}:
  file.absent:
    - name: {{ ("/var/lib/layline-formula/pending/" ~ unit ~ ".json") | json }}
    - require:
      - service: layline-decommission-service-dead-{{ unit }}
{%- endfor %}
