# vim: ft=sls
# Fails (and, failhard, stops the whole run) on an invalid configuration
# model, or when the formula's custom modules are not synced to the minion:
# every other SLS of the formula requires this one, so a bad pillar changes
# nothing on the minion. The state reads the model on the minion: no
# configuration (and no password) travels as state data.
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/synced.jinja" import synced, sync_hint with context %}
{%- if not synced %}

layline-validate-test-fail_without_changes:
  test.fail_without_changes:
    - name: {{ sync_hint | json }}
    - comment: {{ sync_hint | json }}
    - failhard: True
{%- else %}

layline-validate-layline-validated:
  layline.validated:
    - name: layline configuration
    - failhard: True
{%- endif %}
