# vim: ft=sls
# Rolling restart of the layline cluster:
#   salt-run state.orch layline.rolling
#   salt-run state.orch layline.rolling test=True        (prints the plan only)
#   salt-run state.orch layline.rolling pillar='{"layline": {"rolling": {"all": true}}}'
# The work is done by the runner layline.rolling (_runners/layline.py; sync it
# with `salt-run saltutil.sync_all`). Only non-secret settings are passed
# to it (layline/orch/settings.jinja). Under test=True Salt does not run
# salt.runner steps, so the plan is computed while this file renders
# (saltutil.runner layline.plan) and shown.
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/orch/settings.jinja" import settings with context %}

{%- if opts.get('test') %}
{%-   set plan = salt['saltutil.runner']('layline.plan', kwarg={'settings': settings}) %}
{%-   if plan is not mapping %}
{%-     set plan = {'waves': [], 'config_server': none, 'refused': [plan | string],
                    'text': 'layline.plan failed (is the runner synced? salt-run '
                            ~ 'saltutil.sync_all): ' ~ plan | string} %}
{%-   endif %}

layline-rolling-test-configurable_test_state-plan:
  test.configurable_test_state:
    - name: rolling restart plan
    - changes: {{ ((plan.waves | length > 0) or (plan.config_server is not none))
                  and not plan.refused }}
    - result: {{ not plan.refused }}
    - allow_test_mode_failure: True
    - comment: {{ plan.text | json }}
{%- else %}

layline-rolling-salt-runner-rolling:
  salt.runner:
    - name: layline.rolling
    - settings: {{ settings | json }}
    - failhard: True
{%- endif %}
