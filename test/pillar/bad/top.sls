---
base:
  '*':
    - layline
