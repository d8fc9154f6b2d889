# vim: ft=sls
# Backups of the layline database on the database minion (backend mysql):
# layline-backup.timer (layline:backup:on_calendar, Persistent=true) starts
# layline-backup.service, which runs /usr/local/sbin/layline-backup: a
# consistent dump (mariadb-dump --single-transaction) as root through the
# server's socket, credentials from the root-only option file
# /etc/layline-backup/client.cnf (no password exists; none on a command line),
# gzip, written atomically into layline:backup:dir (root 0700, files 0600),
# the newest layline:backup:keep kept, then node-exporter's textfile
# layline_backup.prom in layline:backup:textfile_dir and one journal line.
# `salt <database minion> layline_db.backups` lists the files; restore with
# `salt-run state.orch layline.orch.restore` (README, "Backup and restore").
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- from tplroot ~ "/synced.jinja" import synced, sync_hint with context %}
{%- if not synced %}{{ raise(sync_hint) }}{%- endif %}
{%- set backup = layline.backup %}
{%- set db = layline.database %}
{%- set option_file = '/etc/layline-backup/client.cnf' %}
{%- set script = '/usr/local/sbin/layline-backup' %}
{%- set unit_dir = '/etc/systemd/system' %}

include:
  - {{ tplroot }}.mysql

layline-backup-file-directory-options:
  file.directory:
    - name: /etc/layline-backup
    - user: root
    - group: root
    - mode: '0700'
    - require:
      - sls: {{ tplroot }}.mysql

layline-backup-file-managed-options:
  file.managed:
    - name: {{ option_file }}
    - contents: {{ salt['layline_db.client_options'](db.socket) | json }}
    - user: root
    - group: root
    - mode: '0600'
    - require:
      - file: layline-backup-file-directory-options

layline-backup-file-managed-script:
  file.managed:
    - name: {{ script }}
    - source: salt://{{ tplroot }}/backup/files/layline-backup.sh
    - user: root
    - group: root
    - mode: '0755'
    - require:
      - sls: {{ tplroot }}.mysql

layline-backup-file-directory-dir:
  file.directory:
    - name: {{ backup.dir | json }}
    - user: root
    - group: root
    - mode: '0700'
    - makedirs: True
    - require:
      - sls: {{ tplroot }}.mysql

{#- Debian's prometheus-node-exporter ships this directory root 0755 too #}
layline-backup-file-directory-textfile:
  file.directory:
    - name: {{ backup.textfile_dir | json }}
    - user: root
    - group: root
    - mode: '0755'
    - makedirs: True
    - require:
      - sls: {{ tplroot }}.mysql

layline-backup-file-managed-service:
  file.managed:
    - name: {{ unit_dir }}/layline-backup.service
    - source: salt://{{ tplroot }}/backup/files/layline-backup.service.jinja
    - template: jinja
    - user: root
    - group: root
    - mode: '0644'
    - context:
        after: {{ (db.service ~ '.service') | json }}
        script: {{ script | json }}
        option_file: {{ option_file | json }}
        database: {{ db.name | json }}
        dir: {{ backup.dir | json }}
        keep: {{ backup.keep | json }}
        textfile_dir: {{ backup.textfile_dir | json }}
    - require:
      - file: layline-backup-file-managed-options
      - file: layline-backup-file-managed-script
      - file: layline-backup-file-directory-dir
      - file: layline-backup-file-directory-textfile

layline-backup-file-managed-timer:
  file.managed:
    - name: {{ unit_dir }}/layline-backup.timer
    - source: salt://{{ tplroot }}/backup/files/layline-backup.timer.jinja
    - template: jinja
    - user: root
    - group: root
    - mode: '0644'
    - context:
        on_calendar: {{ backup.on_calendar | json }}
    - require:
      - file: layline-backup-file-managed-service

layline-backup-cmd-run-daemon-reload:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: layline-backup-file-managed-service
      - file: layline-backup-file-managed-timer

layline-backup-service-running-timer:
  service.running:
    - name: layline-backup.timer
    - enable: True
    - require:
      - cmd: layline-backup-cmd-run-daemon-reload
    - watch:
      - file: layline-backup-file-managed-timer
