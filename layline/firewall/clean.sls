# vim: ft=sls
# Inverse of layline.firewall: the formula's nftables table, its unit and
# ruleset file are removed (layline:firewall:enabled: false applies it too).
# The nftables package, /etc/nftables.conf and every rule of the site stay.
# (firewalld: the formula's rich rules stay; remove them with firewall-cmd.)
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_validate = tplroot ~ '.validate.clean' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set fw = layline.firewall %}

include:
  - {{ sls_validate }}
{%- if fw.backend == 'nftables' %}

layline-firewall-clean-service-dead:
  service.dead:
    - name: {{ fw.service | json }}
    - enable: False
    - require:
      - sls: {{ sls_validate }}

layline-firewall-clean-cmd-run-delete-table:
  cmd.run:
    - name: nft delete table inet layline
    - onlyif: nft list table inet layline
    - require:
      - service: layline-firewall-clean-service-dead

layline-firewall-clean-file-absent-unit:
  file.absent:
    - name: {{ ('/etc/systemd/system/' ~ fw.service ~ '.service') | json }}
    - require:
      - cmd: layline-firewall-clean-cmd-run-delete-table

layline-firewall-clean-file-absent-ruleset:
  file.absent:
    - name: {{ fw.ruleset_file | json }}
    - require:
      - cmd: layline-firewall-clean-cmd-run-delete-table

layline-firewall-clean-cmd-run-daemon-reload:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: layline-firewall-clean-file-absent-unit
{%- endif %}
