# vim: ft=sls
# Configuration server: <release>/config/config-server/application.conf
# in the release of layline:version and, while the machine still runs another
# release (an engine of a multi-node cluster on it waits for its rolling
# restart), in that one too
# (rendered on the minion by layline.render; root:<group> 0640) and its
# writable directories under <home>/.layline/config-server.
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_install = tplroot ~ '.install' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set base = layline.home ~ '/.layline/config-server' %}
{%- set active = salt['layline_release.active'](layline.install_dir) %}
{%- set versions = [layline.version] + ([active] if active and active != layline.version else []) %}

include:
  - {{ sls_install }}
  - {{ tplroot }}.python

layline-config-file-directory-config-server:
  file.directory:
    - names:
      - {{ layline.home }}/.layline
      - {{ base }}
      - {{ base }}/log
      - {{ base }}/database
      - {{ base }}/clusters
    - user: {{ layline.user }}
    - group: {{ layline.group }}
    - mode: '0750'
    - require:
      - sls: {{ sls_install }}

layline-config-layline-config_managed-config-server:
  layline.config_managed:
    - names:
{%- for version in versions %}
      - {{ salt['layline_release.paths'](layline.install_dir, version).release }}/config/config-server/application.conf
{%- endfor %}
    - role: config-server
    - config: {{ layline | json }}
    - user: root
    - group: {{ layline.group }}
    - mode: '0640'
    - require:
      - sls: {{ sls_install }}
      - sls: {{ tplroot }}.python
