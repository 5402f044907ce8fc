package micetro

const haTemplate = `# hawiz answers for micetro-central-ha (Micetro Central high availability, C1).
# Fill in the <...> placeholders; every other line is optional with its default shown.
ssh:
  user: <ssh user>            # needs sudo on Linux members (sudo: nopasswd | password | none)
  # sudo: nopasswd
  # known_hosts: ~/.ssh/known_hosts
version_ui: "10.2+"           # "10.2+": web UI (Admin > Configuration > High Availability); "10.1": Management Console
members:                      # the first is the primary (priority 10); each failover a unique, higher priority
  - name: central1            # ClusterMemberName: printable ASCII, no quotes, < > or &
    host: {address: <primary address>}      # os: linux (default) | windows; port, user
    priority: 10
  - name: central2
    host: {address: <failover address>}
    priority: 20
    # preferences_path: /opt/mmcentral/preferences.cfg   # this member only; wins over preferences_path below
# preferences_path: /var/mmsuite/mmcentral/preferences.cfg   # Windows: C:\ProgramData\Men and Mice\Central\preferences.cfg
# service: mmcentral          # Windows: "Micetro Central", driven by mmcentral.exe -stop / -start
# version_command: [mmcentrald, -v]   # [derived] the docs give no version command; run with sudo
dns:
  name: <central.example.com> # the round-robin name: one A record per member
  # ttl: 300
  # servers: [ns1.example.com]  # authoritative servers to check; default: discovered (SOA, NS)
  # tsig_key_file: /etc/hawiz/central.key   # with it hawiz offers to create the records (RFC 2136)
# ha_tweaks:                  # C3; written with ASCII quotes to every member
#   heartbeat_interval: 10    # 5-15 seconds
#   heartbeat_max_allowed_downtime: 30   # 20-120 seconds
# max_clock_skew: 5s
`

const upgradeTemplate = `# hawiz answers for micetro-central-upgrade (updating Central in a High Availability setup, C2).
ssh:
  user: <ssh user>
members:                      # the first is the primary; the others are upgraded after it, in order
  - name: central1
    host: {address: <primary address>}
  - name: central2
    host: {address: <failover address>}
    # upload_dir: /var/tmp      # this member only; wins over upload_dir below
    # preferences_path: /opt/mmcentral/preferences.cfg   # this member only (its startup log is beside it)
installer:
  local: <./micetro-central-10.3.6.linux.x64.tgz>   # uploaded to every member (or remote: /path/on/the/servers)
  # sha256: <hex>             # checked on arrival
  expected_version: <10.3.6>  # what Central reports once upgraded; a member already there is not upgraded again
# upload_dir: /tmp            # where the installer is uploaded on Linux members (Windows: C:\Windows\Temp)
# install_command: [...]      # default: tar -xzf the .tgz, then ./install in the extracted directory (the vendor's install page)
# install_input: ["", ""]     # lines fed to the installer's prompts; default: accept every default
# version_command: [mmcentrald, -v]
`
