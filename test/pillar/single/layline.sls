---
# Scenario `single`: layline's default single host (empty topology: config
# server + one engine on H2). Only the distribution is set, because the
# default download needs the real installer's sha256.
layline:
  distribution:
    source: salt://test/simulator/dist/layline-linux-amd64-2.5.4.sh
    source_hash: salt://test/simulator/dist/layline-linux-amd64-2.5.4.sh.sha256
