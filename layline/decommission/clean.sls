# vim: ft=sls
# Nothing to undo: a decommissioned machine gets its services back from
# layline.service once the pillar lists it again.
{%- set tplroot = tpldir.split('/')[0] %}

include:
  - {{ tplroot }}.validate
