# vim: ft=sls
# The cluster CA and this minion's certificate (layline.tls_plan):
# <config_dir>/tls (root:<group> 0750; <group> is the service group, mysql on
# a database-only minion) with ca.crt (0644), node.crt (0644; SAN: the
# minion's role hostnames and pillar addresses) and node.key (RSA, 0640
# root:<key group>: the service group on an engine, mysql on a database
# minion, else root: a config server alone does not use it). The CA minion
# (layline:tls:ca_minion, default the config server's minion; the single host)
# keeps the CA key in <config_dir>/ca (root 0700) and signs locally; every
# other minion asks it through the master's peer interface
# (x509.certificate_managed with ca_server and its own signing policy
# layline-<minion id>, which fixes every field of the certificate; the CA
# minion writes every policy from its pillar, served by its grain
# x509_signing_policies, and the others wait while it has not), after
# fetching its CA certificate (waiting while the CA minion makes it in the
# same run; the CA minion publishes it in the Salt mine, read with one master
# request). Certificates are renewed only when fewer than
# layline:tls:renew_days remain. The layline_tls key and certificate states
# call Salt's x509 states only when their in-process check finds a change.
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- from tplroot ~ "/synced.jinja" import synced, sync_hint with context %}
{%- if not synced %}{{ raise(sync_hint) }}{%- endif %}
{%- set tls = salt['layline.tls_plan'](config=layline) %}
{%- set roles = salt['layline.roles'](config=layline) %}
{%- set runs_layline = 'config-server' in roles or 'engine' in roles %}

include:
  - {{ tplroot }}.validate
{%- if tls.enabled and runs_layline %}
  - {{ tplroot }}.install
{%- elif tls.enabled %}
  - {{ tplroot }}.mysql.server
{%- endif %}
{%- if tls.enabled %}

layline-tls-file-directory:
  file.directory:
    - names:
      - {{ tls.config_dir | json }}
      - {{ tls.dir | json }}
    - user: root
    - group: {{ tls.group | json }}
    - mode: '0750'
    - follow_symlinks: False
    - allow_symlink: False
    - require:
      - sls: {{ tplroot }}.validate
{%-   if runs_layline %}
      - group: layline-install-group-present
{%-   else %}
      - pkg: layline-mysql-pkg-installed
{%-   endif %}

layline-tls-layline_tls-private_key_managed:
  layline_tls.private_key_managed:
    - name: {{ tls.key | json }}
    - keysize: {{ tls.key_size }}
    - user: root
    - group: {{ tls.key_group | json }}
    - mode: '0640'
    - require:
      - file: layline-tls-file-directory
{%-   if tls.is_ca %}

layline-tls-file-directory-ca:
  file.directory:
    - name: {{ tls.ca_dir | json }}
    - user: root
    - group: root
    - mode: '0700'
    - follow_symlinks: False
    - allow_symlink: False
    - require:
      - file: layline-tls-file-directory

layline-tls-layline_tls-private_key_managed-ca:
  layline_tls.private_key_managed:
    - name: {{ tls.ca_key | json }}
    - keysize: {{ tls.key_size }}
    - user: root
    - group: root
    - mode: '0400'
    - require:
      - file: layline-tls-file-directory-ca

layline-tls-layline_tls-certificate_managed-ca:
  layline_tls.certificate_managed:
    - name: {{ tls.ca_cert | json }}
    - signing_private_key: {{ tls.ca_key | json }}
    - CN: {{ tls.ca_cn | json }}
    - basicConstraints: critical, CA:TRUE
    - keyUsage: critical, cRLSign, keyCertSign
    - subjectKeyIdentifier: hash
    - days_valid: {{ tls.ca_days }}
    - days_remaining: {{ tls.renew_days }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - layline_tls: layline-tls-layline_tls-private_key_managed-ca
{%-     if tls.signs_for_others %}

{#- the other minions read the CA certificate from the mine: one master request #}
layline-tls-layline_tls-ca_published:
  layline_tls.ca_published:
    - name: {{ tls.ca_cert | json }}
    - require:
      - layline_tls: layline-tls-layline_tls-certificate_managed-ca

{#- the other minions' certificates are signed here: one policy each, all fixed,
    generated from this run's pillar (served by the grain x509_signing_policies) #}
layline-tls-layline_tls-signing_policies_managed:
  layline_tls.signing_policies_managed:
    - name: x509_signing_policies
    - require:
      - layline_tls: layline-tls-layline_tls-certificate_managed-ca
{%-     endif %}
{%-   else %}

layline-tls-layline_tls-ca_certificate_present:
  layline_tls.ca_certificate_present:
    - name: {{ tls.ca_cert | json }}
    - ca_server: {{ tls.ca_minion | json }}
    - signing_policy: {{ tls.signing_policy | json }}
    - timeout: {{ tls.wait_timeout }}
    - require:
      - file: layline-tls-file-directory
{%-   endif %}

layline-tls-layline_tls-certificate_managed:
  layline_tls.certificate_managed:
    - name: {{ tls.cert | json }}
{%-   if tls.is_ca %}
    - signing_private_key: {{ tls.ca_key | json }}
    - signing_cert: {{ tls.ca_cert | json }}
{%-   else %}
    - ca_server: {{ tls.ca_minion | json }}
    - signing_policy: {{ tls.signing_policy | json }}
    - ca_cert: {{ tls.ca_cert | json }}
    - wait_timeout: {{ tls.wait_timeout }}
{%-   endif %}
    - private_key: {{ tls.key | json }}
    - CN: {{ tls.common_name | json }}
    - subjectAltName: {{ tls.subject_alt_name | json }}
    - basicConstraints: critical, CA:FALSE
    - keyUsage: critical, digitalSignature, keyEncipherment
    - extendedKeyUsage: serverAuth, clientAuth
    - authorityKeyIdentifier: keyid:always
    - days_valid: {{ tls.days }}
    - days_remaining: {{ tls.renew_days }}
    - user: root
    - group: root
    - mode: '0644'
{%-   if opts.test %}
    # test=True on a bare minion: no CA certificate to sign with yet. Only then:
    # an onlyif makes Salt look up layline_tls.mod_run_check, which loads every
    # module.
    - onlyif:
      - fun: file.file_exists
        path: {{ tls.ca_cert | json }}
{%-   endif %}
    - require:
      - layline_tls: layline-tls-layline_tls-private_key_managed
{%-   if tls.is_ca %}
      - layline_tls: layline-tls-layline_tls-certificate_managed-ca
{%-   else %}
      - layline_tls: layline-tls-layline_tls-ca_certificate_present
{%-   endif %}
{%- endif %}
