---
# Scenario `allinone`: every role (MySQL, configuration server, one engine)
# on one machine with the MySQL backend: the cluster code path on a single
# test-kitchen instance (kitchen.yml sets the minion id `layline-allinone`).
layline:
  distribution:
    source: salt://test/simulator/dist/layline-linux-amd64-2.5.4.sh
    source_hash: salt://test/simulator/dist/layline-linux-amd64-2.5.4.sh.sha256
  cluster:
    name: Production
    nodes:
      - minion: layline-allinone
        hostname: localhost
    min_nr_of_members: 1
  config_server:
    minion: layline-allinone
    hostname: localhost
  database:
    backend: mysql
    minion: layline-allinone
    hostname: localhost
    password: 'kitchen"only''pw'
