// Package opsmanager holds the MongoDB Ops Manager procedures:
//
//   - opsmanager-ha (HA): the Application HA page (M1) step by step (M2),
//     with the prerequisites hawiz checks first;
//   - opsmanager-upgrade (UpgradeProcedure): one server at a time, Upgrade
//     Mode (M16, M17).
//
// Facts and sources are in ../shared/procedures.md Part A; every step names
// its source in DocRef. Choices hawiz makes where the docs are silent
// ([derived]):
//
//   - Install type and version: package installs ask dpkg-query, then rpm;
//     tar installs read the version from the archive's directory name
//     (readlink -f install_dir: mongodb-mms-VERSION.ARCH). The service user
//     is mongodb-mms (package) or mms.conf's MMS_USER (tar); gen.key is at
//     mms.conf's ENC_KEY_PATH when set, else /etc/mongodb-mms/gen.key
//     (package) or ${HOME}/.mongodb-mms/gen.key of the service user (tar).
//     Every path can be overridden in the answers (paths:).
//   - conf-mms.properties is edited with Props, which keeps every byte but
//     the values it sets (FuzzPropsSet checks that). A file hawiz changed
//     while Ops Manager ran is restarted when the servers are started.
//   - gen.key bytes are read into memory only to copy them, registered with
//     the Redactor (raw, hex, base64) and written with Secret; facts hold
//     only the SHA-256. hawiz never overwrites a different existing key (it
//     may encrypt data: refused, exit 4), and checks the key's hash right
//     before every start.
//   - "Every server behind the LB": real Ops Manager sends nothing that
//     names the backend, so hawiz tags its requests through the LB
//     (/monitor/health?hawiz-NONCE-i, a new connection each) and counts each
//     server's hits in its mms0-access.log over SSH. Backend headers
//     (X-Served-By, the lab's X-Hawiz-Lab-Server) are shown when present.
//   - Cache signs (CacheSigns): Age; X-Cache, X-Cache-Status,
//     CF-Cache-Status or X-Proxy-Cache saying HIT; Cache-Control public or
//     max-age/s-maxage > 0; the same Date on two requests for the same URL
//     more than a second apart. Any of them: refused (exit 4).
//   - The live App DB check (ReadLiveConfig, replSetGetConfig with the Go
//     driver) connects through the first server's SSH connection (the
//     driver's custom dialer over remote.Host.DialTCPAddr: the servers reach
//     the App DB, the operator's machine often does not); appdb.live_via:
//     direct connects from this machine, server-then-direct falls back to
//     it. The URI's hosts are asked at once (the first to answer wins, the
//     others are cancelled), so an unreachable App DB costs one
//     live_timeout, not one per host. Unreachable is a warning unless
//     appdb.live_check is required. Its tests talk to the lab's in-process
//     wire-protocol App DB (lab/standins/appdb: OP_QUERY/OP_MSG,
//     SCRAM-SHA-256, replSetGetConfig) by names only the SSH host resolves,
//     as `hawiz demo` does; no real mongod was available here.
//   - Upgrade: .deb with dpkg --force-confold -i, .rpm with rpm -U, tar by
//     extracting next to the current directory, copying conf/ and
//     repointing the install_dir symlink. conf-mms.properties and gen.key
//     are backed up (cp -p … .hawiz-pre-upgrade) with their hashes as facts;
//     if an install changes them they are restored and the operator warned.
//     A server already on the target version is never installed again.
package opsmanager
