"""Lab of systemd-nspawn machines with a host salt-master (see docs/design.md, "Lab contract").

Modules:
  image    -- builds and caches the read-only base image (debootstrap + salt-minion + apt mirror)
  machines -- up/down/stop/start/cut/heal of machines, the bridge and the host salt-master
  util     -- small helpers shared by both (process, mount and path handling)
"""
