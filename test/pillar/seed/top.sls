---
base:
  '*':
    - layline
  ll-config-server:
    - x509
