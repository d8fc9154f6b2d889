---
# Scenario `seed3`: the seed topology with three engines, for the rolling
# restart (lab: lab up --topology seed --nodes 3 --pillar test/pillar/seed3).
# The password holds quotes, a backslash, `${` and `#` (HOCON escaping);
# stable_after 30s leaves the cut-off test time to refuse before the SBR acts.
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
      - minion: ll-node-3
        hostname: ll-node-3.orb.local
    min_nr_of_members: 2
    split_brain_resolver:
      strategy: keep-majority
      stable_after: 30s
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
  # The rolling tests watch the management port (8558) from the lab host, which
  # the guide's firewall refuses by design (test_formula_seed proves the firewall).
  firewall:
    enabled: false
