---
# Scenario `seed`: the topology of layline's Multi-Node Cluster Setup guide
# (lab: lab up --topology seed --pillar test/pillar/seed). The password holds
# quotes, a backslash, `${` and `#` to prove the HOCON escaping.
layline:
  # The lab's package index (test/lab/lablib/pyindex.py, served by `lab up`).
  python:
    index_url: http://10.231.7.1:8080/simple/
    # the lab's index is plain http (the hashes pin every artefact)
    allow_insecure_index: true
  version: 2.5.4
  distribution:
    source: salt://test/simulator/dist/layline-linux-amd64-2.5.4.sh
    source_hash: salt://test/simulator/dist/layline-linux-amd64-2.5.4.sh.sha256
  cluster:
    name: Production
    nodes:
      - minion: ll-node-1
        hostname: ll-node-1.orb.local
      - minion: ll-node-2
        hostname: ll-node-2.orb.local
    min_nr_of_members: 2
    split_brain_resolver:
      strategy: keep-majority
      stable_after: 20s
  config_server:
    minion: ll-config-server
    hostname: ll-config-server.orb.local
  database:
    backend: mysql
    minion: ll-mysql
    hostname: ll-mysql.orb.local
    port: 3306
    name: layline
    user: layline
    password: 'S3cr"et''Pa\ss${HOME}#1'
  # Prometheus metrics on every engine, scraped by the monitoring role on the
  # database machine; short intervals so the lab sees an alert within seconds.
  metrics:
    enabled: true
    port: 9095
  monitoring:
    minion: ll-mysql
    hostname: ll-mysql.orb.local
    scrape_interval: 2s
    alerts:
      member_not_up: 6s
      unreachable_members: 6s
      members_missing: 6s
      backup_stale: 1m
  # The guide's port table (layline.firewall, on by default): the lab host
  # (10.231.7.1, the salt master) is a browser of the config server, a
  # client of the engines' REST port and an operator of Prometheus (9090 on
  # ll-mysql); the tests probe the rest of the table.
  firewall:
    browsers: [10.231.7.1]
    clients: [10.231.7.1]
    operators: [10.231.7.1]
