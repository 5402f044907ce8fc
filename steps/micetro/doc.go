// Package micetro holds the Micetro (Men&Mice) Central procedures:
//
//   - micetro-central-ha (HA): make Central highly available, as the
//     vendor's "Configuring Central in High Availability" page reads — name
//     the primary (ClusterMemberName in preferences.cfg), restart it,
//     register it and each failover member with its priority (10 for the
//     primary, unique and higher for each failover), copy preferences.cfg to
//     each failover, start them, verify their states, and check (or repair
//     with a TSIG-signed update) the round-robin DNS A records;
//   - micetro-central-upgrade (UpgradeProcedure): "Updating Central in High
//     Availability setup" — stop the secondaries, upgrade the primary, then
//     each secondary, and verify.
//
// Each procedure's step IDs and ordered table are in ha.go and upgrade.go;
// each documented step lives in its own file named after its ID
// (ha_<id>.go, upgrade_<id>.go) with its check, action, verification and
// doc reference. Shared helpers are named for what they do: hosts.go
// (talking to a member), services.go (Central's service on Linux and
// Windows), prefs.go and prefs_edit.go (preferences.cfg, every byte kept but
// the values set), installer.go and staging.go (the installer in a private
// staging directory), versions.go, manual.go (the steps done in Micetro's
// UI). Data that one step hands to another (what its check saw, for its
// apply) is a typed per-host field on the step that owns it, never a shared
// map. Every remote action is a typed primitive of package remote: no
// answer value is pasted into a shell string.
package micetro
