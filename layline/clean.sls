# vim: ft=sls
# Removes what layline.install/config/cluster/service created, in reverse
# order, whatever the roles. Never deletes data: the service user's home
# (H2 journal, logs) and the MySQL role (layline.mysql / layline.schema, run
# their own clean SLS explicitly) stay.
{%- set tplroot = tpldir.split('/')[0] %}

include:
  - {{ tplroot }}.service.clean
  - {{ tplroot }}.cluster.clean
  - {{ tplroot }}.config.clean
  - {{ tplroot }}.install.clean
  - {{ tplroot }}.firewall.clean
