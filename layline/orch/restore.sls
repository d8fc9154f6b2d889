# vim: ft=sls
# Restore of a database backup as one operation:
#   salt <database minion> layline_db.backups                 (the names)
#   salt-run state.orch layline.orch.restore \
#     pillar='{"layline": {"restore": {"file": "layline-20260101T020000Z.sql.gz"}}}'
#   ... test=True                                             (prints the plan only)
# The runner layline.restore (_runners/layline.py; salt-run saltutil.sync_all)
# checks the file on the database minion, stops the engines (graceful leave) and
# the config server, counts the journal rows, restores (layline_db.restore: drop,
# create, load, as root through the server socket), starts the config server and
# the engines in seed order, each gated on readiness, and reports the journal rows
# before and after. Only non-secret settings are passed to it. Under test=True
# Salt does not run salt.runner steps, so the plan is computed while this file
# renders (saltutil.runner layline.restore_check: read only) and shown.
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- from tplroot ~ "/orch/settings.jinja" import settings with context %}
{%- set file = (layline.restore or {}).get('file') %}

{%- if not file %}

layline-orch-restore-test-fail_without_changes:
  test.fail_without_changes:
    - name: >-
        no backup file given: pass it on the command line, salt-run state.orch
        layline.orch.restore pillar='{"layline": {"restore": {"file": "<name>"} } }'
        (the names: salt <database minion> layline_db.backups); nothing was changed
    - failhard: True
{%- elif opts.get('test') %}
{%-   set plan = salt['saltutil.runner']('layline.restore_check',
                                         kwarg={'settings': settings, 'file': file}) %}
{%-   if plan is not mapping %}
{%-     set plan = {'refused': [plan | string],
                    'text': 'layline.restore_check failed (is the runner synced? salt-run '
                            ~ 'saltutil.sync_all): ' ~ plan | string} %}
{%-   endif %}

layline-orch-restore-test-configurable_test_state-plan:
  test.configurable_test_state:
    - name: restore plan
    - changes: {{ not plan.refused }}
    - result: {{ not plan.refused }}
    - allow_test_mode_failure: True
    - comment: {{ plan.text | json }}
{%- else %}

layline-orch-restore-salt-runner-restore:
  salt.runner:
    - name: layline.restore
    - file: {{ file | json }}
    - settings: {{ settings | json }}
    - failhard: True
{%- endif %}
