# vim: ft=sls
# Fails (and, failhard, stops the whole run) on an invalid configuration
# model: every other SLS of the formula requires this one, so a bad pillar
# changes nothing on the minion.
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}

layline-validate-layline-validated:
  layline.validated:
    - name: layline configuration
    - config: {{ layline | json }}
    - failhard: True
