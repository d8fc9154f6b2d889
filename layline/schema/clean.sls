# vim: ft=sls
# Intentionally removes nothing: the tables hold the cluster's journal and
# snapshots. Dropping them is a manual, deliberate act
# (DROP TABLE event_tag, event_journal, snapshot).
layline-schema-clean-test-nop:
  test.nop:
    - name: layline.schema.clean keeps the layline tables and their data
