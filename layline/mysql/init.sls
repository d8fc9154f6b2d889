# vim: ft=sls
# The database role: Salt's MySQL dependencies, the server, the layline
# database and user. Applied by layline (init.sls) on layline:database:minion
# when layline:database:backend is mysql.
{%- set tplroot = tpldir.split('/')[0] %}

include:
  - {{ tplroot }}.mysql.python
  - {{ tplroot }}.mysql.server
  - {{ tplroot }}.mysql.database
