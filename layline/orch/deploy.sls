# vim: ft=sls
# First deployment of a layline cluster, in order, stopping at the first
# failure:
#   0. the CA minion's layline.tls (layline:tls on, CA minion not the database
#      minion): the database's certificate is signed there
#   1. database minion   (state layline: MySQL server, database, user)
#   2. config server     (state layline: install, schema, config, cluster, service)
#   3. each engine in seed order (layline:cluster:nodes), each gated on the
#      previous engine's health: `layline.ready` (Pekko Management /ready = 200)
#      polled on that engine, up to 60 x 5 s. salt.state does not forward
#      batch_wait, hence one step per node with failhard and require.
#      With min_nr_of_members = k the first k engines cannot be Up before k
#      members joined: they are deployed back to back and checked together.
#   4. the monitoring minion, when it has no other role (Prometheus).
#      The order comes from the runner layline.deploy (_runners/layline.py;
#      salt-run saltutil.sync_all), given only non-secret settings
#      (layline/orch/settings.jinja).
#
# Run:  salt-run state.orch layline.orch.deploy
# The orchestration renders on the master with the pillar of the master's own
# minion id (e.g. `<host>_master`): target the layline pillar at it too
# (`'*'` in top.sls does), or pass it: salt-run state.orch layline.orch.deploy
# pillar='{"layline": {...}}'. Under test=True the salt.state steps run with
# test=True on the minions, but the salt.function health steps do not run.
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- from tplroot ~ "/orch/settings.jinja" import settings with context %}

{%- if not layline.cluster.nodes and not layline.config_server.minion %}

layline-orch-deploy-test-fail_without_changes:
  test.fail_without_changes:
    - name: >-
        the master's pillar has no layline:cluster:nodes and no
        layline:config_server:minion: target the layline pillar at the master's
        minion id or pass pillar= to state.orch
    - failhard: True
{%- else %}
{%-   for step in salt['saltutil.runner']('layline.deploy', kwarg={'settings': settings}) %}
{%-     if step.kind in ('state', 'tls') %}

{{ step.id | json }}:
  salt.state:
    - tgt: {{ [step.minion] | json }}
    - tgt_type: list
    - sls:
      - {{ tplroot ~ ('.tls' if step.kind == 'tls' else '') }}
    - failhard: True
{%-     else %}

{{ step.id | json }}:
  salt.function:
    - name: layline.ready
    - tgt: {{ [step.minion] | json }}
    - tgt_type: list
    - failhard: True
    # the same 5 minutes as before, asked every 2 s: the next node starts sooner
    - retry:
        attempts: 150
        interval: 2
{%-     endif %}
{%-     if step.require %}
    - require:
      - salt: {{ step.require }}
{%-     endif %}
{%-   endfor %}
{%- endif %}
