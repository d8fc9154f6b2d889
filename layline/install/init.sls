# vim: ft=sls
# Service user and group, the distribution (downloaded and verified into the
# cache) and the unattended installer, each version into its own release
# directory <install_dir>/releases/<version> (never into the one a running
# process uses; installer_args get `{dir}` replaced by it). Both are skipped when
# that directory's VERSION is layline:version already, so a rollback downloads
# nothing (decided while rendering, no `unless`). Ownership of the install
# tree is root:<group> (the service reads, never modifies, its binaries). <install_dir>/current points at the release
# the node runs: moved here unless a running engine of a multi-node cluster
# uses it (that node moves at its rolling restart, layline_release.switch).
# Installing a release this node does not run yet is refused when it would be
# a third version in the cluster (a previous rollout is half done).
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set dist = layline.distribution %}
{%- set installer = dist.cache_dir ~ '/' ~ dist.source.split('?')[0].rstrip('/').split('/')[-1] %}
{%- set release = salt['layline_release.paths'](layline.install_dir, layline.version) %}
{%- set active = salt['layline_release.active'](layline.install_dir) %}
{#- decided while this file renders (like layline.python): an `unless` on a
    state makes Salt look up `<module>.mod_run_check`, and that miss loads every
    state and execution module (1-4 s per run) #}
{%- set installed = salt['layline.version_installed'](release.release, layline.version) %}
{%- set installer_args = dist.installer_args | map('string')
                         | map('replace', '{dir}', release.release) | list %}

include:
  - {{ tplroot }}.validate
{%- if active != layline.version %}

layline-install-layline_release-rollout_allowed:
  layline_release.rollout_allowed:
    - name: layline cluster
    - version: {{ layline.version | json }}
    - failhard: True
    - require:
      - sls: {{ tplroot }}.validate
{%- endif %}

{%- if dist.prerequisites %}

layline-install-pkg-installed:
  pkg.installed:
    - pkgs: {{ dist.prerequisites | json }}
    - require:
      - sls: {{ tplroot }}.validate
{%-   if not installed %}
    - require_in:
      - cmd: layline-install-cmd-run
{%-   endif %}
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
    # the mark by which layline.validate knows the account as the formula's (docs/pillar.md):
    # layline_schema.ACCOUNT_GECOS; test_util_holes checks that they agree
    - fullname: layline-formula service account
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

{%- if not installed %}

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
    - name: sh {{ installer | quote }} {{ installer_args | map('quote') | join(' ') }}
    - require:
      - file: layline-install-file-managed
      - user: layline-install-user-present
{%- endif %}

layline-install-file-directory:
  file.directory:
    - name: {{ layline.install_dir | json }}
    - user: root
    - group: {{ layline.group }}
    - recurse:
      - user
      - group
    - require:
{%- if installed %}
      - user: layline-install-user-present
{%- else %}
      - cmd: layline-install-cmd-run
{%- endif %}

layline-install-layline_release-active:
  layline_release.active:
    - name: {{ layline.install_dir | json }}
    - version: {{ layline.version | json }}
    - require:
      - file: layline-install-file-directory
