# vim: ft=sls
# pymysql, cryptography (MySQL 8 caching_sha2_password) and saltext.mysql
# (mysql_database / mysql_user / mysql_grants states; Salt 3008 core has none)
# in Salt's own Python. pip.installed without bin_env uses the Python the
# minion runs on (salt-pip in onedir installs). Skipped when they import
# already - the lab image pre-installs them; otherwise this needs a reachable
# package index (or a pip.conf pointing at a mirror). reload_modules makes
# the new states usable in the same run.
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- set python = grains['pythonexecutable'] %}

include:
  - {{ tplroot }}.validate

layline-mysql-pip-installed:
  pip.installed:
    - pkgs: {{ layline.database.python_packages | json }}
    - reload_modules: True
    - unless: {{ python }} -c 'import pymysql, cryptography, saltext.mysql'
    - require:
      - sls: {{ tplroot }}.validate
