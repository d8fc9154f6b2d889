---
# Scenario `bad`: the seed topology with deliberate errors. The validation
# must fail naming them, and nothing may change on any minion:
# - min_nr_of_members 5 with 2 nodes (the cluster would never come up);
# - both nodes share one hostname.
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
        hostname: ll-node-1.orb.local
    min_nr_of_members: 5
  config_server:
    minion: ll-config-server
    hostname: ll-config-server.orb.local
  database:
    backend: mysql
    minion: ll-mysql
    hostname: ll-mysql.orb.local
    password: 'S3cr"et''Pa\ss${HOME}#1'
