# vim: ft=sls
# Inverse of layline.backup that never loses data: stops and disables the
# timer, removes the units, the script, the option file and the textfile.
# The backup files in layline:backup:dir stay (delete them by hand).
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_validate = tplroot ~ '.validate.clean' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}

include:
  - {{ sls_validate }}

layline-backup-clean-service-dead:
  service.dead:
    - names:
      - layline-backup.timer
      - layline-backup.service
    - enable: False
    - require:
      - sls: {{ sls_validate }}

layline-backup-clean-file-absent:
  file.absent:
    - names:
      - /etc/systemd/system/layline-backup.timer
      - /etc/systemd/system/layline-backup.service
      - /usr/local/sbin/layline-backup
      - /etc/layline-backup
      - {{ (layline.backup.textfile_dir ~ '/layline_backup.prom') | json }}
    - require:
      - service: layline-backup-clean-service-dead

layline-backup-clean-cmd-run-daemon-reload:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: layline-backup-clean-file-absent
