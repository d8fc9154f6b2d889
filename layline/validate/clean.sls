# vim: ft=sls
# The clean SLS files validate first as well (a cache_dir of /etc must never
# become `file.absent /etc`), without requiring the installer settings that
# only an installation needs. Validation changes nothing.

layline-validate-clean-layline-validated:
  layline.validated:
    - name: layline configuration (clean)
    - installing: False
    - failhard: True
