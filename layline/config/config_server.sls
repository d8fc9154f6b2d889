# vim: ft=sls
# Configuration server: <release>/config/config-server/application.conf
# (root-owned install tree) in the release of layline:version and, while the
# machine still runs another release (an engine of a multi-node cluster on it
# waits for its rolling restart), in that one too; root:<group> 0640, rendered
# and written on the minion by layline.config_managed. The server creates its
# own log and database directories under the service user's home.
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_install = tplroot ~ '.install' %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set active = salt['layline_release.active'](layline.install_dir) %}
{%- set versions = [layline.version] + ([active] if active and active != layline.version else []) %}

include:
  - {{ sls_install }}
  - {{ tplroot }}.python
  - {{ tplroot }}.config.truststore

layline-config-layline-config_managed-config-server:
  layline.config_managed:
    - names:
{%- for version in versions %}
      - {{ (salt['layline_release.paths'](layline.install_dir, version).release
            ~ '/config/config-server/application.conf') | json }}
{%- endfor %}
    - role: config-server
    - group: {{ layline.group | json }}
    - require:
      - sls: {{ sls_install }}
      - sls: {{ tplroot }}.python
      - sls: {{ tplroot }}.config.truststore
