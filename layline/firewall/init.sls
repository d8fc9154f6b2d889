# vim: ft=sls
# The guide's port table as a firewall for this minion's roles (see
# _modules/layline_firewall.py and docs/design.md, firewall): each layline port
# accepts only its sources; everything else to those ports is dropped; no other
# port is touched. Applied by layline (init.sls) when layline_firewall.active.
# - nftables (Debian): table inet layline, rendered from data by
#   layline_firewall.ruleset, checked with `nft -c -f` before it is written,
#   loaded atomically by the unit layline-firewall.service (also at boot);
#   /etc/nftables.conf is never touched.
# - firewalld (RedHat): rich rules in layline:firewall:zone accepting the sources
#   on each port; the zone rejects what it does not open.
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_validate = tplroot ~ '.validate' %}
{%- from tplroot ~ "/synced.jinja" import synced, sync_hint with context %}
{%- if not synced %}{{ raise(sync_hint) }}{%- endif %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set fw = layline.firewall %}
{%- set nft = '/usr/sbin/nft' %}
{%- set unit = '/etc/systemd/system/' ~ fw.service ~ '.service' %}

include:
  - {{ sls_validate }}

layline-firewall-pkg-installed:
  pkg.installed:
    - name: {{ fw.package | json }}
    - require:
      - sls: {{ sls_validate }}
{%- if fw.backend == 'nftables' %}

layline-firewall-file-managed-ruleset:
  file.managed:
    - name: {{ fw.ruleset_file | json }}
    - contents: {{ salt['layline_firewall.ruleset']() | json }}
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
    # refused (and the loaded table kept) when nft cannot parse it
    - check_cmd: {{ (nft ~ ' -c -f') | json }}
    - require:
      - pkg: layline-firewall-pkg-installed

layline-firewall-file-managed-unit:
  file.managed:
    - name: {{ unit | json }}
    - source: salt://{{ tplroot }}/firewall/files/layline-firewall.service.jinja
    - template: jinja
    - user: root
    - group: root
    - mode: '0644'
    - context:
        nft: {{ nft | json }}
        ruleset_file: {{ fw.ruleset_file | json }}
    - require:
      - pkg: layline-firewall-pkg-installed

layline-firewall-service-running:
  service.running:
    - name: {{ fw.service | json }}
    - enable: True
    # a reload runs `nft -f` again: the table is replaced in one transaction
    - reload: True
    - watch:
      - file: layline-firewall-file-managed-ruleset
      - file: layline-firewall-file-managed-unit
{%- elif fw.backend == 'firewalld' %}

layline-firewall-service-running:
  service.running:
    - name: {{ fw.service | json }}
    - enable: True
    - require:
      - pkg: layline-firewall-pkg-installed

layline-firewall-firewalld-present:
  firewalld.present:
    - name: {{ fw.zone | json }}
    - rich_rules: {{ salt['layline_firewall.rich_rules']() | json }}
    # the site's own services, ports and rules stay
    - prune_services: False
    - prune_ports: False
    - prune_rich_rules: False
    - require:
      - service: layline-firewall-service-running
{%- endif %}
