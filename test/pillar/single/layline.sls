---
# Scenario `single`: layline's default single host (empty topology: config
# server + one engine on H2). Only the distribution is set, because the
# default download needs the real installer's sha256.
layline:
  # The lab's package index (test/lab/lablib/pyindex.py, served by `lab up`).
  python:
    index_url: http://10.231.7.1:8080/simple/
    # the lab's index is plain http (the hashes pin every artefact)
    allow_insecure_index: true
  distribution:
    source: salt://test/simulator/dist/layline-linux-amd64-2.5.4.sh
    source_hash: salt://test/simulator/dist/layline-linux-amd64-2.5.4.sh.sha256
