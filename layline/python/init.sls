# vim: ft=sls
# The Python libraries the formula's custom modules need (pyhocon on every
# layline role; pymysql and saltext.mysql with the MySQL backend), installed
# into Salt's own Python: pip.installed without bin_env uses the Python the
# minion runs on (salt-pip, i.e. the extras directory, on onedir installs).
# Every artefact is pinned by sha256 in files/requirements.txt (pip
# --require-hashes) and is a wheel (--only-binary :all:: nothing is built, so
# no unpinned build dependency runs as root); pyhocon's wheel comes with the
# formula (files/wheels, --find-links). Any index or mirror of the same
# artefacts works: layline:python:index_url / extra_index_url, https only
# unless layline:python:allow_insecure_index is true (a lab's http:// index;
# its host is then passed as --trusted-host). reload_modules makes the new modules usable in
# the same run. Converged runs neither run nor load pip (importing it costs
# about a second per run): layline.python_ready compares the pins with the
# installed packages in-process while this file renders, and the pip state
# is rendered only when something is missing.
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata as layline with context %}
{%- from tplroot ~ "/synced.jinja" import synced, sync_hint with context %}
{%- if not synced %}{{ raise(sync_hint) }}{%- endif %}
{%- set python = layline.python %}
{%- set requirements = '/var/lib/layline-formula/python-requirements.txt' %}
{%- set wheels = '/var/lib/layline-formula/wheels' %}
{%- set ready = salt['layline.python_ready'](python.requirements) %}
{#- pip ignores a plain-http index unless its host is trusted: only when the
    pillar says so explicitly (validation refuses http:// otherwise). #}
{%- set http_hosts = [] %}
{%- for url in [python.index_url, python.extra_index_url] %}
{%-   if url and url.startswith('http://') and python.allow_insecure_index is sameas true %}
{%-     do http_hosts.append(url.split('/')[2]) %}
{%-   endif %}
{%- endfor %}

include:
  - {{ tplroot }}.validate

layline-python-file-managed:
  file.managed:
    - name: {{ requirements }}
    - source: {{ python.requirements }}
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
    - require:
      - sls: {{ tplroot }}.validate

{#- wheels the indexes do not have (pyhocon: PyPI has only its sdist) #}
layline-python-file-recurse-wheels:
  file.recurse:
    - name: {{ wheels }}
    - source: salt://{{ tplroot }}/python/files/wheels
    - user: root
    - group: root
    - dir_mode: '0755'
    - file_mode: '0644'
    - clean: True
    - makedirs: True
    - require:
      - sls: {{ tplroot }}.validate

{%- if not ready %}

layline-python-pip-installed:
  pip.installed:
    - requirements: {{ requirements }}
{%- if python.index_url %}
    - index_url: {{ python.index_url | json }}
{%- endif %}
{%- if python.extra_index_url %}
    - extra_index_url: {{ python.extra_index_url | json }}
{%- endif %}
    - extra_args:
      - --require-hashes
      - --only-binary: ':all:'
      - --find-links: {{ wheels | json }}
{%- for host in http_hosts | unique %}
      - --trusted-host: {{ host | json }}
{%- endfor %}
    - reload_modules: True
    - unless:
      - fun: layline.python_ready
        requirements: {{ requirements }}
    - require:
      - file: layline-python-file-managed
      - file: layline-python-file-recurse-wheels
{%- endif %}
