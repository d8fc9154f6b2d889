# vim: ft=sls
# The database role: Salt's MySQL dependencies (layline.python), the server, the layline
# database and user. Applied by layline (init.sls) on layline:database:minion
# when layline:database:backend is mysql.
{%- set tplroot = tpldir.split('/')[0] %}

include:
  - {{ tplroot }}.python
  - {{ tplroot }}.mysql.server
  - {{ tplroot }}.mysql.database
