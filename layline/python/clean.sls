# vim: ft=sls
# Inverse of layline.python: removes the copy of the requirements file and the
# formula's wheels. The libraries stay in Salt's Python (other formulas may use
# them; remove them with salt-pip / pip uninstall if you really mean it).
layline-python-clean-file-absent:
  file.absent:
    - names:
      - /var/lib/layline-formula/python-requirements.txt
      - /var/lib/layline-formula/wheels
