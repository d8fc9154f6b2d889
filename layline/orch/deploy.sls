# vim: ft=sls
# First deployment of a layline cluster, in order, stopping at the first
# failure:
#   1. database minion   (state layline: MySQL server, database, user)
#   2. config server     (state layline: install, schema, config, cluster, service)
#   3. each engine in seed order (layline:cluster:nodes), each gated on the
#      previous engine's health: `layline.ready` (Pekko Management /ready = 200)
#      polled on that engine, up to 60 x 5 s. salt.state does not forward
#      batch_wait, hence one step per node with failhard and require.
#      With min_nr_of_members = k the first k engines cannot be Up before k
#      members joined: they are deployed back to back and checked together.
#
# Run:  salt-run state.orch layline.orch.deploy
# The orchestration renders on the master with the pillar of the master's own
# minion id (e.g. `<host>_master`): target the layline pillar at it too
# (`'*'` in top.sls does), or pass it: salt-run state.orch layline.orch.deploy
# pillar='{"layline": {...}}'. Under test=True the salt.state steps run with
# test=True on the minions, but the salt.function health steps do not run.
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set db = layline.database %}
{%- set nodes = layline.cluster.nodes %}
{%- set min_members = [layline.cluster.min_nr_of_members | int, 1] | max %}
{%- set last = {'req': none} %}

{%- if not nodes and not layline.config_server.minion %}

layline-orch-deploy-test-fail_without_changes:
  test.fail_without_changes:
    - name: >-
        the master's pillar has no layline:cluster:nodes and no
        layline:config_server:minion: target the layline pillar at the master's
        minion id or pass pillar= to state.orch
    - failhard: True
{%- else %}

{%-   if db.backend == 'mysql' and db.minion %}

layline-orch-deploy-salt-state-database:
  salt.state:
    - tgt: {{ db.minion }}
    - tgt_type: list
    - sls:
      - {{ tplroot }}
    - failhard: True
{%-     do last.update({'req': 'layline-orch-deploy-salt-state-database'}) %}
{%-   endif %}

{%-   if layline.config_server.minion %}

layline-orch-deploy-salt-state-config-server:
  salt.state:
    - tgt: {{ layline.config_server.minion }}
    - tgt_type: list
    - sls:
      - {{ tplroot }}
    - failhard: True
{%-     if last.req %}
    - require:
      - salt: {{ last.req }}
{%-     endif %}
{%-     do last.update({'req': 'layline-orch-deploy-salt-state-config-server'}) %}
{%-   endif %}

{%-   for node in nodes %}
{%-     set position = loop.index %}

layline-orch-deploy-salt-state-{{ node.minion }}:
  salt.state:
    - tgt: {{ node.minion }}
    - tgt_type: list
    - sls:
      - {{ tplroot }}
    - failhard: True
{%-     if last.req %}
    - require:
      - salt: {{ last.req }}
{%-     endif %}
{%-     do last.update({'req': 'layline-orch-deploy-salt-state-' ~ node.minion}) %}

{%-     if position >= min_members %}
{%-       set gated = nodes[:position] if position == min_members else [node] %}
{%-       set deployed = 'layline-orch-deploy-salt-state-' ~ node.minion %}
{%-       for check in gated %}

layline-orch-deploy-salt-function-ready-{{ check.minion }}:
  salt.function:
    - name: layline.ready
    - tgt: {{ check.minion }}
    - tgt_type: list
    - failhard: True
    - retry:
        attempts: 60
        interval: 5
    - require:
      - salt: {{ deployed }}
{%-         do last.update({'req': 'layline-orch-deploy-salt-function-ready-' ~ check.minion}) %}
{%-       endfor %}
{%-     endif %}
{%-   endfor %}
{%- endif %}
