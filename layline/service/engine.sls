# vim: ft=sls
# layline-reactive-engine.service.
# Single engine: restarted when its installation or configuration changes.
# Multi-node cluster: never restarted here (a restart of several members at
# once would break the cluster): a change writes the root-owned restart marker
# /var/lib/layline-formula/pending/layline-reactive-engine.json; the rolling
# restart (salt-run state.orch layline.rolling) restarts the node and clears
# the marker once the node is healthy again (only a running engine gets a
# marker). A stopped engine is started either way. A new release is installed
# beside the running one (<install_dir>/releases/<version>); the unit starts
# <install_dir>/current/bin/reactive-engine and the rolling restart switches
# the current link. With the MySQL backend the engine
# starts only once the schema is there (layline_db.tables_present waits).
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_install = tplroot ~ '.install' %}
{%- set sls_config = tplroot ~ '.config.engine' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- from tplroot ~ "/synced.jinja" import synced, sync_hint with context %}
{%- if not synced %}{{ raise(sync_hint) }}{%- endif %}
{%- set roles = salt['layline.roles'](config=layline) %}
{%- set multi_node = salt['layline.is_multi_node'](config=layline) %}
{%- set mysql = layline.database.backend == 'mysql' %}
{%- set config_dir = layline.config_dir ~ '/reactive-engine' %}
{%- set active = salt['layline_release.active'](layline.install_dir) %}
{%- set pending = salt['layline_release.pending_version']('layline-reactive-engine') %}
{%- set after = ['network-online.target'] %}
{%- if 'database' in roles %}
{%-   do after.append(layline.database.service ~ '.service') %}
{%- endif %}
{%- set unit = '/etc/systemd/system/layline-reactive-engine.service' %}
{#- first seed node only: no island after a restart in a partition (see seed-gate.sh) #}
{%- set gate = salt['layline.seed_gate'](config=layline) %}

include:
  - {{ sls_install }}
  - {{ sls_config }}
{%- if mysql %}
  - {{ tplroot }}.python
{%- endif %}

layline-service-file-managed-seed-gate:
  file.managed:
    - name: /usr/local/lib/layline-formula/seed-gate
    - source: salt://{{ tplroot }}/service/files/seed-gate.sh
    - user: root
    - group: root
    - mode: '0755'
    - makedirs: True
    - require:
      - sls: {{ sls_install }}

layline-service-file-managed-engine:
  file.managed:
    - name: {{ unit }}
    - source: salt://{{ tplroot }}/service/files/layline.service.jinja
    - template: jinja
    - user: root
    - group: root
    - mode: '0644'
    - context:
        description: layline.io reactive engine
        user: {{ layline.user | json }}
        group: {{ layline.group | json }}
        home: {{ layline.home | json }}
        exec_start: {{ [layline.install_dir ~ '/current/bin/reactive-engine',
                        '-J-Dlayline.configDirectory=' ~ config_dir] | json }}
        exec_start_pre: {{ ([gate.check] if gate else []) | json }}
        exec_stop_post: {{ ([gate.record] if gate else []) | json }}
        after: {{ after | json }}
        protect_home: {{ not (layline.home.startswith('/home') or layline.home.startswith('/root')) }}
    - require:
      - sls: {{ sls_install }}
      - file: layline-service-file-managed-seed-gate

layline-service-cmd-run-daemon-reload-engine:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: layline-service-file-managed-engine
{%- if mysql %}

layline-service-layline_db-tables_present:
  layline_db.tables_present:
    - name: {{ layline.database.name | json }}
    - timeout: {{ layline.database.wait_timeout | json }}
    # the schema lands on the database minion meanwhile; a check costs milliseconds
    - interval: 1
    - require:
      - sls: {{ sls_config }}
      - sls: {{ tplroot }}.python
{%- endif %}
{%- if multi_node %}

layline-service-layline-restart_pending:
  layline.restart_pending:
    - name: layline-reactive-engine
{%-   set transport = salt['layline.transport_change'](config=layline) %}
{%-   if transport %}
    {#- the rolling restart refuses such a marker (README, TLS: upgrading) #}
    - reason: {{ transport | json }}
{%-   else %}
    - reason: reactive engine installation, unit or configuration changed
{%-   endif %}
    # a stopped engine reads the new configuration when it starts: nothing pending
    - onlyif:
      - systemctl is-active --quiet layline-reactive-engine
    - onchanges:
      - sls: {{ sls_install }}
      - sls: {{ sls_config }}
      - file: layline-service-file-managed-engine

{#- a new release waits beside the running one; the rolling restart switches to it #}
layline-service-layline_release-pending_version_dropped:
  layline_release.pending_version_dropped:
    - name: /var/lib/layline-formula/pending/layline-reactive-engine.json
    - version: {{ layline.version | json }}
    - require:
      - sls: {{ sls_install }}
{%-   if active and active != layline.version and pending != layline.version
         and not salt['layline_release.switch_now'](layline.install_dir) %}

layline-service-layline-restart_pending-version:
  layline.restart_pending:
    - name: layline-reactive-engine
    - reason: version {{ active }} -> {{ layline.version }}
    - version: {{ layline.version | json }}
    - require:
      - layline_release: layline-service-layline_release-pending_version_dropped
    - require_in:
      - service: layline-service-service-running-engine
{%-   endif %}
{%- endif %}

layline-service-service-running-engine:
  service.running:
    - name: layline-reactive-engine
    - enable: True
    - require:
      - cmd: layline-service-cmd-run-daemon-reload-engine
      - sls: {{ sls_config }}
{%- if mysql %}
      - layline_db: layline-service-layline_db-tables_present
{%- endif %}
{%- if multi_node %}
      - layline: layline-service-layline-restart_pending
{%- else %}
    - watch:
      - file: layline-service-file-managed-engine
      - sls: {{ sls_install }}
      - sls: {{ sls_config }}
{%- endif %}
