---
# The signing policy of the cluster CA (layline.tls) in the CA minion's
# pillar: the other layline minions' certificates are signed with it
# (x509_v2 remote signing; the master's peer config allows
# x509.sign_remote_certificate). Paths: <config_dir>/ca/ca.key and
# <config_dir>/tls/ca.crt of the CA minion.
x509_signing_policies:
  layline:
    - minions: 'll-*'
    - signing_private_key: /etc/layline/ca/ca.key
    - signing_cert: /etc/layline/tls/ca.crt
    - basicConstraints: critical, CA:FALSE
    - keyUsage: critical, digitalSignature, keyEncipherment
    - extendedKeyUsage: serverAuth, clientAuth
