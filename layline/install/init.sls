# vim: ft=sls
# Service user and group, the distribution (downloaded and verified into the
# cache), the unattended installer (run again only when <install_dir>/VERSION
# differs from layline:version) and ownership of the install tree
# (root:<group>: the service reads, never modifies, its binaries).
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set dist = layline.distribution %}
{%- set installer = dist.cache_dir ~ '/' ~ dist.source.split('?')[0].rstrip('/').split('/')[-1] %}
{%- set version_file = layline.install_dir ~ '/VERSION' %}

include:
  - {{ tplroot }}.validate

{%- if dist.prerequisites %}

layline-install-pkg-installed:
  pkg.installed:
    - pkgs: {{ dist.prerequisites | json }}
    - require:
      - sls: {{ tplroot }}.validate
    - require_in:
      - cmd: layline-install-cmd-run
{%- endif %}

layline-install-group-present:
  group.present:
    - name: {{ layline.group }}
    - system: True
    - require:
      - sls: {{ tplroot }}.validate

layline-install-user-present:
  user.present:
    - name: {{ layline.user }}
    - gid: {{ layline.group }}
    - home: {{ layline.home }}
    - createhome: True
    - shell: {{ layline.nologin_shell }}
    - system: True
    - require:
      - group: layline-install-group-present

layline-install-file-directory-home:
  file.directory:
    - name: {{ layline.home }}
    - user: {{ layline.user }}
    - group: {{ layline.group }}
    - mode: '0750'
    - require:
      - user: layline-install-user-present

layline-install-file-managed:
  file.managed:
    - name: {{ installer }}
    - source: {{ dist.source }}
    - source_hash: {{ dist.source_hash }}
    - user: root
    - group: root
    - mode: '0600'
    - makedirs: True
    - require:
      - sls: {{ tplroot }}.validate

layline-install-cmd-run:
  cmd.run:
    - name: sh {{ installer | quote }} {{ dist.installer_args | map('string') | map('quote') | join(' ') }}
    # In-process (no shell): the converged run spawns nothing here.
    - unless:
      - fun: layline.version_installed
        install_dir: {{ layline.install_dir | json }}
        version: {{ layline.version | json }}
    - require:
      - file: layline-install-file-managed
      - user: layline-install-user-present

layline-install-file-directory:
  file.directory:
    - name: {{ layline.install_dir }}
    - user: root
    - group: {{ layline.group }}
    - recurse:
      - user
      - group
    - require:
      - cmd: layline-install-cmd-run
