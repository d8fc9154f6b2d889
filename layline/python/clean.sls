# vim: ft=sls
# Inverse of layline.python: removes the copy of the requirements file. The
# libraries stay in Salt's Python (other formulas may use them; remove them
# with salt-pip / pip uninstall if you really mean it).
layline-python-clean-file-absent:
  file.absent:
    - name: /var/lib/layline-formula/python-requirements.txt
