# vim: ft=sls
# Validation changes nothing: nothing to clean.

layline-validate-clean-test-nop:
  test.nop:
    - name: layline validation has nothing to clean
