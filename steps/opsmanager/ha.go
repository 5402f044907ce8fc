package opsmanager

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hawiz/hawiz/dnscheck"
	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// DocHA is the page the HA procedure follows (M1); its steps come from M2.
const DocHA = "https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/"

// Step IDs of opsmanager-ha (stable: they are in state files).
const (
	StepPreflight    = "preflight-servers"
	StepAppDB        = "check-appdb-replica-set"
	StepLB           = "configure-load-balancer"
	StepUseLB        = "configure-ops-manager-to-use-load-balancer"
	StepReplHosts    = "update-hosts-with-replication-hosts"
	StepAgents       = "point-agents-at-load-balancer"
	StepPlaceKey     = "place-own-gen-key"
	StepStartFirst   = "start-first-server"
	StepCopyKey      = "copy-gen-key"
	StepBackupKey    = "back-up-gen-key"
	StepStartOthers  = "start-remaining-servers"
	StepVerifyLB     = "verify-through-load-balancer"
	StepKeepKeySafe  = "keep-gen-key-backup-safe"
	factGenKeySHA    = "gen_key.sha256"
	factGenKeyBackup = "gen_key.backup"
)

// HA returns the opsmanager-ha procedure.
func HA() *steps.Procedure {
	return &steps.Procedure{
		Name:        "opsmanager-ha",
		Title:       "MongoDB Ops Manager Application high availability",
		Description: "Several Ops Manager Application servers behind a load balancer, one App DB replica set, one gen.key",
		DocURL:      DocHA,
		Version:     1,
		NewAnswers:  func() steps.Answers { return &Answers{} },
		Template:    TemplateHA,
		Steps:       func(a steps.Answers) ([]*steps.Step, error) { return haSteps(a.(*Answers)) },
	}
}

// TemplateHA is printed by `hawiz answers opsmanager-ha`.
const TemplateHA = `# hawiz answers: opsmanager-ha (MongoDB Ops Manager Application HA)
ssh:
  user: admin               # sudo rights needed (package installs: service mongodb-mms …)
servers:                    # every Ops Manager Application server; the first starts first
  - name: om1
    install: package        # package (rpm/deb: /opt/mongodb/mms, user mongodb-mms) or tar
  - name: om2
    install: package
  # - name: om3
  #   install: tar
  #   install_dir: /opt/mongodb/mms-current   # tar: required (a symlink, for upgrades)
  #   service_user: opsmgr                    # tar default: MMS_USER in conf/mms.conf
# paths:                    # overrides for every server (or per server under servers[].paths)
#   gen_key: /etc/mongodb-mms/gen.key
#   service_manager: systemctl               # service (package default) | systemctl | command
# https: true               # the servers serve HTTPS (port 8443)
appdb:
  # every replica-set member, no credentials here (M7)
  uri: mongodb://db1.example.net:27017,db2.example.net:27017,db3.example.net:27017/?maxPoolSize=100
  # username: opsmanager    # password: HAWIZ_APPDB_PASSWORD or the prompt; enables the live check
  # live_check: try         # try | required | off: compare replSetGetConfig with these answers
  # live_via: server        # server (through the first server's SSH) | direct (this machine) | server-then-direct
  members:                  # optional: placement check (M1)
    - {host: db1.example.net:27017, facility: dc1}
    - {host: db2.example.net:27017, facility: dc1}
    - {host: db3.example.net:27017, facility: dc2, priority: 0}
load_balancer:
  url: http://opsmanager.example.net:8080
  remote_ip_header: X-Forwarded-For
  # expect: [192.0.2.10]    # the LB name's addresses, checked on every authoritative server
gen_key:
  mode: first-server        # first-server | file | generate
  backup_to: ./gen.key.backup
# agents:                   # optional: point MongoDB Agents at the LB (M2 step 4)
#   - name: db1
#     config_path: /etc/mongodb-mms/automation-agent.config
`

func haSteps(a *Answers) ([]*steps.Step, error) {
	names := a.serverNames()
	first, rest := names[:1], names[1:]
	c := &a.Common
	var list []*steps.Step
	add := func(s *steps.Step) { list = append(list, s) }

	add(&steps.Step{
		ID:     StepPreflight,
		Title:  "Preflight: inventory every Application server",
		Why:    "every server needs the same Ops Manager version, its conf-mms.properties, and a known gen.key location (install type decides it)",
		DocRef: "procedures.md A-0 [derived]; M1 (gen.key paths), M9, M10, M11",
		Actions: []string{
			"on every server: install type (dpkg-query/rpm -q mongodb-mms, or <install_dir>/bin/mongodb-mms); version; running or not",
			"stat conf-mms.properties; read mms.conf (MMS_USER, ENC_KEY_PATH); stat gen.key",
		},
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) { return preflight(ctx, e, c) },
	})
	add(&steps.Step{
		ID:     StepAppDB,
		Title:  "Prerequisite: the Application Database replica set",
		Why:    "the App DB must be a replica set of at least 3 members; one facility must be able to elect a primary",
		DocRef: "M1 Prerequisites and \"Replica Set for the Application Database\"; M2 step 3; M15",
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) { return checkAppDB(ctx, e, a) },
	})
	add(&steps.Step{
		ID:     StepLB,
		Title:  "Configure a load balancer with the pool of Application hosts",
		Why:    "the LB health-checks /monitor/health on every server and must not cache (checked through the LB once the servers run)",
		DocRef: "M2 step 1; M1 (caching off, idle timeout 180 s, HAProxy 10m timeouts, X-Forwarded-For)",
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) {
			return checkLBName(ctx, e, &a.LoadBalancer)
		},
	})
	add(&steps.Step{
		ID:     StepUseLB,
		Title:  "Configure Ops Manager to use the load balancer",
		Why:    "mms.centralUrl is the LB URL and mms.remoteIp.header the header carrying the client IP (local overrides in conf-mms.properties)",
		DocRef: "M2 step 2; M5 (mms.centralUrl), M6 (mms.remoteIp.header); M1 note swaps the two, §C.1",
		Hosts:  names,
		Mode:   steps.EachInOrder,
		Actions: []string{
			fmt.Sprintf("set %s=%s and %s=%s in conf-mms.properties (in place, backup kept)", KeyCentralURL, a.LoadBalancer.URL, KeyRemoteIP, a.LoadBalancer.RemoteIPHeader),
		},
		Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
			return confHas(ctx, e, c, host, lbKeys(a))
		},
		Apply: func(ctx context.Context, e *steps.Env, host string) error { return confSet(ctx, e, c, host, lbKeys(a)) },
		Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
			return confVerify(ctx, e, c, host, lbKeys(a), []string{KeyCentralURL, KeyRemoteIP})
		},
	})
	add(&steps.Step{
		ID:     StepReplHosts,
		Title:  "Update each Application host with the replication hosts",
		Why:    "every server points at the same App DB replica set, all members listed",
		DocRef: "M2 step 3; M7 (mongo.mongoUri)",
		Hosts:  names,
		Mode:   steps.EachInOrder,
		Actions: []string{
			fmt.Sprintf("set %s=%s in conf-mms.properties (credentials spliced in when appdb.username is set; never shown)", KeyMongoURI, a.AppDB.URI),
		},
		Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
			kv, err := uriKeys(e, a)
			if err != nil {
				return false, "", err
			}
			return confHas(ctx, e, c, host, kv)
		},
		Apply: func(ctx context.Context, e *steps.Env, host string) error {
			kv, err := uriKeys(e, a)
			if err != nil {
				return err
			}
			return confSet(ctx, e, c, host, kv)
		},
		Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
			kv, err := uriKeys(e, a)
			if err != nil {
				return "", err
			}
			return confVerify(ctx, e, c, host, kv, []string{KeyMongoURI, KeyCentralURL, KeyRemoteIP})
		},
	})
	if len(a.Agents) > 0 {
		var agentNames []string
		for _, g := range a.Agents {
			agentNames = append(agentNames, g.Name)
		}
		add(&steps.Step{
			ID:     StepAgents,
			Title:  "Update each MongoDB Agent to use the load balancer",
			Why:    "agents must talk to the LB URL, not to one Ops Manager server",
			DocRef: "M2 step 4; M20 (agent config locations)",
			Hosts:  agentNames,
			Mode:   steps.EachInOrder,
			Actions: []string{
				fmt.Sprintf("set %s=%s in the agent config, restart the agent", KeyAgentBase, a.LoadBalancer.URL),
			},
			Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
				return agentCheck(ctx, e, a, host)
			},
			Apply: func(ctx context.Context, e *steps.Env, host string) error { return agentApply(ctx, e, a, host) },
			Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
				return agentVerify(ctx, e, a, host)
			},
		})
	}
	if a.GenKey.Mode != GenKeyFirst {
		add(&steps.Step{
			ID:     StepPlaceKey,
			Title:  "Distribute your own gen.key to every server before any starts",
			Why:    "a gen.key you bring must be on every server before any Application starts",
			DocRef: "M1 Procedure (\"If you instead create your own gen.key, distribute it to the servers before starting any\"); M1 gen.key",
			Hosts:  names,
			Mode:   steps.EachInOrder,
			Actions: []string{
				"write gen.key (24 bytes, 0600, owner the service user) on each server; the bytes are never shown",
			},
			Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
				return keyMatches(ctx, e, c, host)
			},
			Apply: func(ctx context.Context, e *steps.Env, host string) error { return placeOwnKey(ctx, e, a, host) },
			Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
				return keyVerify(ctx, e, c, host)
			},
		})
	}
	add(&steps.Step{
		ID:      StepStartFirst,
		Title:   "Start one of the Application servers",
		Why:     "the first server starts (and creates gen.key when there is none yet)",
		DocRef:  "M2 step 5; M11 (Started in); M1 gen.key",
		Hosts:   first,
		Mode:    steps.Once,
		Actions: []string{"start Ops Manager; wait for /monitor/health 200 over SSH and \"Started in\" in mms0-startup.log"},
		Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
			return startCheck(ctx, e, c, host)
		},
		Apply: func(ctx context.Context, e *steps.Env, host string) error {
			return startApply(ctx, e, c, host, a.GenKey.Mode != GenKeyFirst)
		},
		Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
			return startVerify(ctx, e, c, host)
		},
	})
	add(&steps.Step{
		ID:     StepCopyKey,
		Title:  "Copy the gen.key file to every other Application server",
		Why:    "the key must be identical on every server before they start; a server without it cannot join (M1)",
		DocRef: "M2 step 6; M1 gen.key",
		Hosts:  rest,
		Mode:   steps.EachInOrder,
		Actions: []string{
			fmt.Sprintf("copy gen.key from %s (read into memory, never shown) to each other server: 0600, owner the service user; compare SHA-256", first[0]),
		},
		Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
			return keyMatches(ctx, e, c, host)
		},
		Apply: func(ctx context.Context, e *steps.Env, host string) error { return copyKey(ctx, e, c, host) },
		Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
			return keyVerify(ctx, e, c, host)
		},
	})
	add(&steps.Step{
		ID:     StepBackupKey,
		Title:  "Back up the gen.key file to a secure location",
		Why:    "without the key the backing databases and credentials cannot be decrypted",
		DocRef: "M1 gen.key (important: back up gen.key once generated)",
		Actions: []string{
			"offer a local copy (mode 0600) at gen_key.backup_to; say where it went",
		},
		Check: func(ctx context.Context, e *steps.Env, _ string) (bool, string, error) {
			return backupCheck(ctx, e, c, a.GenKey.BackupTo)
		},
		Apply: func(ctx context.Context, e *steps.Env, _ string) error {
			return backupApply(ctx, e, c, a.GenKey.BackupTo)
		},
	})
	add(&steps.Step{
		ID:     StepStartOthers,
		Title:  "Start the remaining Application servers",
		Why:    "each server starts only with the same gen.key; one at a time",
		DocRef: "M2 last step; M11",
		Hosts:  rest,
		Mode:   steps.EachInOrder,
		Actions: []string{
			"refuse when the server's gen.key hash differs; start; wait for /monitor/health 200 and \"Started in\"",
		},
		Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
			return startCheck(ctx, e, c, host)
		},
		Apply: func(ctx context.Context, e *steps.Env, host string) error { return startApply(ctx, e, c, host, true) },
		Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
			return startVerify(ctx, e, c, host)
		},
	})
	add(&steps.Step{
		ID:     StepVerifyLB,
		Title:  "Verify the Application through the load balancer",
		Why:    "/monitor/health via the LB URL returns 200, every server is in the pool, and the LB does not cache",
		DocRef: "M2 step 1 (health check 200/500); M1 and M6 (no cached content)",
		Actions: []string{
			"from this machine: GET <LB>/monitor/health twice, >1 s apart (cache signs), then tagged requests; find each tag in the servers' mms0-access.log",
		},
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) {
			return verifyLB(ctx, e, c, &a.LoadBalancer)
		},
	})
	add(&steps.Step{
		ID:     StepKeepKeySafe,
		Title:  "Keep the gen.key backup safe",
		Why:    "the backup is the only way back if every server loses its key; shared storage holding it must itself be HA",
		DocRef: "M1 gen.key (important notes)",
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) { return keepSafe(e, a) },
	})
	return list, nil
}

// ---- preflight ----

func forEachServer(ctx context.Context, names []string, f func(ctx context.Context, name string) (string, error)) ([]string, error) {
	out := make([]string, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = f(ctx, n)
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func preflight(ctx context.Context, e *steps.Env, c *Common) (string, error) {
	versions := make([]string, len(c.Servers))
	lines, err := forEachServer(ctx, c.serverNames(), func(ctx context.Context, name string) (string, error) {
		h := e.Host(name)
		if h == nil {
			return "", fmt.Errorf("%s: not connected", name)
		}
		s := c.server(name)
		l, err := resolveLayout(ctx, e, c, name)
		if err != nil {
			return "", err
		}
		if s.Install == InstallTar {
			fi, err := h.Stat(ctx, filepath.Join(s.InstallDir, "bin", "mongodb-mms"), l.Sudo)
			if err != nil {
				return "", err
			}
			if !fi.Exists {
				return "", fmt.Errorf("%s: install: tar, but %s/bin/mongodb-mms does not exist (M10)", name, s.InstallDir)
			}
		}
		v, err := installedVersion(ctx, h, l)
		if err != nil {
			return "", err
		}
		for i := range c.Servers {
			if c.Servers[i].Name == name {
				versions[i] = v
			}
		}
		b, _, err := h.ReadFile(ctx, l.Conf, l.Sudo)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("%s: %s does not exist (M4)", name, l.Conf)
			}
			return "", err
		}
		p := ParseProps(b)
		if _, ok := p.Get(KeyReplicaSet); ok {
			e.Warn(name, "%s sets the legacy %s (MMS-era docs, M3); current docs do not list it and it may be obsolete ([OBSOLETE SETTING] stops startup, M19): consider removing it", l.Conf, KeyReplicaSet)
		}
		kfi, err := h.Stat(ctx, l.GenKey, l.Sudo)
		if err != nil {
			return "", err
		}
		key := "no gen.key yet"
		if kfi.Exists {
			key = fmt.Sprintf("gen.key %d bytes, %s, %s, sha256 %s…", kfi.Size, kfi.Owner, kfi.Mode.Perm(), kfi.SHA256[:min(12, len(kfi.SHA256))])
		}
		up, _ := running(ctx, e, h, l, c)
		state := "stopped"
		if up {
			state = "running"
		}
		return fmt.Sprintf("%s: %s install at %s, Ops Manager %s, %s; service user %s; conf %s; %s at %s; service: %s",
			name, s.Install, s.InstallDir, v, state, l.User, l.Conf, key, l.GenKey, l.describe("start")), nil
	})
	if err != nil {
		return "", err
	}
	for i, v := range versions {
		if v != versions[0] {
			return "", fmt.Errorf("Ops Manager versions differ: %s runs %s, %s runs %s; every server must run the same version (upgrade first, A.3)",
				c.Servers[0].Name, versions[0], c.Servers[i].Name, v)
		}
	}
	return strings.Join(lines, "\n"), nil
}

// ---- App DB ----

func checkAppDB(ctx context.Context, e *steps.Env, a *Answers) (string, error) {
	hosts, err := ParseAppDBURI(a.AppDB.URI)
	if err != nil {
		return "", err
	}
	if len(hosts) < 3 {
		return "", fmt.Errorf("appdb.uri lists %d hosts; at least 3 are needed (M2 step 3)", len(hosts))
	}
	var out []string
	var hs []string
	for _, h := range hosts {
		hs = append(hs, h.String())
		if h.Host != strings.ToLower(h.Host) {
			e.Warn("", "App DB host %s is not lower-case; use lower-case FQDNs or Ops Manager may not find the database (M15)", h.Host)
		}
	}
	out = append(out, fmt.Sprintf("mongo.mongoUri lists %d hosts: %s", len(hosts), strings.Join(hs, ", ")))
	if n := a.AppDB.DataBearing(); n < 3 {
		e.Warn("", "the App DB has %d data-bearing members: Ops Manager writes with w:2, so losing one member stops writes (M15); use 3", n)
		out = append(out, fmt.Sprintf("WARNING: %d data-bearing members (w:2)", n))
	}
	if len(a.AppDB.Members) == 0 {
		out = append(out, "replica-set placement not checked: appdb.members not given")
	} else {
		if err := CheckPlacement(a.AppDB.Members); err != nil {
			return "", fmt.Errorf("appdb.members: %w", err)
		}
		facs := map[string]int{}
		total := 0
		for _, m := range a.AppDB.Members {
			facs[m.Facility] += *m.Votes
			total += *m.Votes
		}
		var fs []string
		for f, v := range facs {
			if f == "" {
				f = "(one site)"
			}
			fs = append(fs, fmt.Sprintf("%s %d/%d votes", f, v, total))
		}
		sort.Strings(fs)
		out = append(out, "placement holds (M1): "+strings.Join(fs, ", ")+"; every priority>0 member in the majority facility")
	}
	switch {
	case a.AppDB.Username == "":
		out = append(out, "live configuration not read: no appdb.username (hawiz checked the answers only)")
	case a.AppDB.LiveCheck == "off":
		out = append(out, "live configuration not read: appdb.live_check is off")
	default:
		pw, err := e.Secret(steps.SecretAppDBPassword)
		if err != nil {
			return "", err
		}
		live, where, err := readLive(ctx, e, a, pw)
		if err != nil {
			if errors.Is(err, ErrAppDBUnreachable) && a.AppDB.LiveCheck == "try" {
				e.Warn("", "could not read the live replica-set configuration (replSetGetConfig): %v; set appdb.live_check: off to skip, required to insist, appdb.live_via to connect from elsewhere", err)
				out = append(out, "live configuration not read: App DB not reachable from "+where)
				break
			}
			return "", fmt.Errorf("reading the live replica-set configuration: %w", err)
		}
		problems, warnings := CompareLive(&a.AppDB, live)
		for _, w := range warnings {
			e.Warn("", "%s", w)
		}
		if len(problems) > 0 {
			return "", fmt.Errorf("the live App DB does not match the answers:\n  %s\n(%s)", strings.Join(problems, "\n  "), live.summary())
		}
		out = append(out, "live "+live.summary()+": matches the answers")
	}
	return strings.Join(out, "\n"), nil
}

// readLive reads the live configuration from where appdb.live_via says:
// through the first server's SSH connection (the driver's connections
// tunnelled with DialTCPAddr), from this machine, or the first, then the
// second when the first cannot reach the App DB. where names the places
// tried.
func readLive(ctx context.Context, e *steps.Env, a *Answers, pw string) (LiveConfig, string, error) {
	first := a.Servers[0].Name
	vias := map[string][]string{"server": {"server"}, "direct": {"direct"}, "server-then-direct": {"server", "direct"}}[a.AppDB.LiveVia]
	var (
		errs   []error
		wheres []string
	)
	for _, via := range vias {
		var dial Dialer
		where, server := "this machine", ""
		if via == "server" {
			h := e.Host(first)
			if h == nil {
				return LiveConfig{}, "", fmt.Errorf("the live check connects through %s, which is not connected", first)
			}
			dial, where, server = h.DialTCPAddr, first+" (through its SSH connection)", first
		}
		wheres = append(wheres, where)
		live, err := ReadLiveConfig(ctx, a.AppDB.URI, a.AppDB.Username, pw, a.AppDB.LiveTimeout, dial)
		if err == nil {
			live.Via = server
			return live, where, nil
		}
		if !errors.Is(err, ErrAppDBUnreachable) || ctx.Err() != nil {
			return LiveConfig{}, where, err
		}
		errs = append(errs, fmt.Errorf("from %s: %w", where, err))
	}
	return LiveConfig{}, strings.Join(wheres, " or "), errors.Join(errs...)
}

// ---- LB name ----

func checkLBName(ctx context.Context, e *steps.Env, lb *LoadBalancer) (string, error) {
	u, err := url.Parse(lb.URL)
	if err != nil {
		return "", err
	}
	host := u.Hostname()
	info := fmt.Sprintf("LB %s: configure its health check on http://<server>:<port>%s (200 healthy, 500 not), caching off, HTTP idle timeout 180 s (HAProxy: timeout client/server 10m), Layer 7 or X-Forwarded-For/Proxy Protocol", lb.URL, HealthPath)
	if _, err := netip.ParseAddr(host); err == nil {
		return info + "\nLB URL names an IP address: no DNS name to verify", nil
	}
	var exp []netip.Addr
	source := "load_balancer.expect"
	for _, a := range lb.Expect {
		exp = append(exp, netip.MustParseAddr(a))
	}
	if len(exp) == 0 {
		// No expected addresses given: take what this machine resolves and
		// check that every authoritative server says the same.
		var res net.Resolver
		addrs, err := res.LookupHost(ctx, host)
		if err != nil {
			return "", fmt.Errorf("the LB name %s does not resolve from this machine: %w (give load_balancer.expect and dns_servers to check the authoritative servers)", host, err)
		}
		for _, a := range addrs {
			if ip, err := netip.ParseAddr(a); err == nil {
				exp = append(exp, ip)
			}
		}
		source = "this machine's resolver"
	}
	r, err := dnscheck.Verify(ctx, dnscheck.Query{Name: host, Expect: exp, Servers: lb.DNSServers, Resolver: lb.DNSResolver})
	if err != nil {
		return "", fmt.Errorf("load_balancer: %w", err)
	}
	if !r.OK {
		return "", fmt.Errorf("DNS for the LB name %s does not hold %v (from %s) on every authoritative server: %s", host, exp, source, strings.Join(r.Problems, "; "))
	}
	return fmt.Sprintf("%s\nDNS: %s = %v (from %s) on every authoritative server of %s (%d servers)", info, host, exp, source, r.Zone, len(r.Servers)), nil
}

// ---- conf-mms.properties ----

type kv struct{ k, v string }

func lbKeys(a *Answers) []kv {
	return []kv{{KeyCentralURL, a.LoadBalancer.URL}, {KeyRemoteIP, a.LoadBalancer.RemoteIPHeader}}
}

func uriKeys(e *steps.Env, a *Answers) ([]kv, error) {
	uri := a.AppDB.URI
	if a.AppDB.Username != "" {
		pw, err := e.Secret(steps.SecretAppDBPassword)
		if err != nil {
			return nil, err
		}
		uri = WithCredentials(uri, a.AppDB.Username, pw)
		// The percent-encoded form is what lands in the file.
		enc := strings.TrimPrefix(url.UserPassword("", pw).String(), ":")
		e.Redactor().Add(enc)
	}
	return []kv{{KeyMongoURI, uri}}, nil
}

func confHas(ctx context.Context, e *steps.Env, c *Common, host string, want []kv) (bool, string, error) {
	l, err := resolveLayout(ctx, e, c, host)
	if err != nil {
		return false, "", err
	}
	b, _, err := e.Host(host).ReadFile(ctx, l.Conf, l.Sudo)
	if err != nil {
		return false, "", err
	}
	p := ParseProps(b)
	var ev []string
	done := true
	for _, w := range want {
		v, ok := p.Get(w.k)
		if !ok || v != w.v {
			done = false
			ev = append(ev, fmt.Sprintf("%s is %q", w.k, maskURI(e, v)))
		} else {
			ev = append(ev, w.k+" already set")
		}
	}
	return done, host + ": " + strings.Join(ev, "; "), nil
}

func confSet(ctx context.Context, e *steps.Env, c *Common, host string, want []kv) error {
	l, err := resolveLayout(ctx, e, c, host)
	if err != nil {
		return err
	}
	h := e.Host(host)
	b, fi, err := h.ReadFile(ctx, l.Conf, l.Sudo)
	if err != nil {
		return err
	}
	p := ParseProps(b)
	for _, w := range want {
		p.Set(w.k, w.v)
	}
	out := p.Bytes()
	if bytes.Equal(out, b) {
		return nil
	}
	wasRunning, _ := running(ctx, e, h, l, c)
	res, err := h.WriteFile(ctx, l.Conf, out, remote.WriteOptions{IfSHA256: fi.SHA256, Backup: true, Sudo: l.Sudo, Secret: true})
	if err != nil {
		return err
	}
	if res.Backup != "" {
		e.Output(host, "backup of the previous conf-mms.properties: "+res.Backup)
	}
	if wasRunning {
		e.SetFact(factKey(host, "restart"), "1")
		e.Warn(host, "Ops Manager is running with the old settings: hawiz restarts it when it starts the servers")
	}
	return nil
}

// confVerify checks host's conf-mms.properties: the step's own keys (want)
// hold the values the answers give, so every server verified holds the same
// ones. On the last server in order it also reads every other server once
// and checks that all keys' lines are equal everywhere: one cross-server
// comparison per step (n reads), not one per server (n² reads).
func confVerify(ctx context.Context, e *steps.Env, c *Common, host string, want []kv, keys []string) (string, error) {
	read := func(ctx context.Context, name string) (string, *Props, error) {
		l, err := resolveLayout(ctx, e, c, name)
		if err != nil {
			return "", nil, err
		}
		b, _, err := e.Host(name).ReadFile(ctx, l.Conf, l.Sudo)
		if err != nil {
			return "", nil, err
		}
		p := ParseProps(b)
		var vals []string
		for _, k := range keys {
			v, _ := p.Get(k)
			vals = append(vals, k+"="+v)
		}
		return strings.Join(vals, "\n"), p, nil
	}
	names := c.serverNames()
	last := names[len(names)-1] == host
	var own string
	var ownProps *Props
	var others []string
	var errOwn, errOthers error
	fs := []func(){func() { own, ownProps, errOwn = read(ctx, host) }}
	if last {
		fs = append(fs, func() {
			others, errOthers = forEachServer(ctx, names[:len(names)-1], func(ctx context.Context, name string) (string, error) {
				l, _, err := read(ctx, name)
				return l, err
			})
		})
	}
	var wg sync.WaitGroup
	for _, f := range fs[1:] {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	fs[0]()
	wg.Wait()
	if errOwn != nil {
		return "", errOwn
	}
	for _, w := range want {
		if v, _ := ownProps.Get(w.k); v != w.v {
			return "", fmt.Errorf("%s: %s is %q, not the value the answers give (%q)", host, w.k, maskURI(e, v), maskURI(e, w.v))
		}
	}
	shown := maskURI(e, strings.ReplaceAll(own, "\n", "; "))
	if !last {
		return fmt.Sprintf("%s: %s (the answers' values; all %d servers are compared once %s is done)", host, shown, len(names), names[len(names)-1]), nil
	}
	if errOthers != nil {
		return "", errOthers
	}
	for i, s := range others {
		if s != own {
			return "", fmt.Errorf("%s differs between %s and %s: %s / %s", strings.Join(keys, ", "), host, names[i],
				shown, maskURI(e, strings.ReplaceAll(s, "\n", "; ")))
		}
	}
	return fmt.Sprintf("%s: %s (equal on all %d servers)", host, shown, len(names)), nil
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return 0
}

// ---- gen.key ----

// registerKey makes sure the key bytes can never reach any output.
func registerKey(e *steps.Env, b []byte) {
	r := e.Redactor()
	r.Add(string(b))
	r.Add(hex.EncodeToString(b))
	r.Add(base64.StdEncoding.EncodeToString(b))
	r.Add(base64.RawStdEncoding.EncodeToString(b))
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// wantKeySHA is the hash every server's gen.key must have: the recorded
// fact, else the first server's key.
func wantKeySHA(ctx context.Context, e *steps.Env, c *Common) (string, error) {
	if v, ok := e.Fact(factGenKeySHA); ok {
		return v, nil
	}
	first := c.Servers[0].Name
	l, err := resolveLayout(ctx, e, c, first)
	if err != nil {
		return "", err
	}
	fi, err := e.Host(first).Stat(ctx, l.GenKey, l.Sudo)
	if err != nil {
		return "", err
	}
	if !fi.Exists {
		return "", nil
	}
	return fi.SHA256, nil
}

func keyMatches(ctx context.Context, e *steps.Env, c *Common, host string) (bool, string, error) {
	want, err := wantKeySHA(ctx, e, c)
	if err != nil {
		return false, "", err
	}
	l, err := resolveLayout(ctx, e, c, host)
	if err != nil {
		return false, "", err
	}
	fi, err := e.Host(host).Stat(ctx, l.GenKey, l.Sudo)
	if err != nil {
		return false, "", err
	}
	if !fi.Exists {
		return false, fmt.Sprintf("%s: no gen.key at %s", host, l.GenKey), nil
	}
	ok := want != "" && fi.SHA256 == want && fi.Size == GenKeySize && fi.Mode.Perm() == 0o600 && fi.Owner == l.User
	return ok, fmt.Sprintf("%s: gen.key %d bytes, %s, %s, sha256 %s", host, fi.Size, fi.Owner, fi.Mode.Perm(), short(fi.SHA256)), nil
}

func short(s string) string { return s[:min(16, len(s))] + "…" }

func keyVerify(ctx context.Context, e *steps.Env, c *Common, host string) (string, error) {
	ok, ev, err := keyMatches(ctx, e, c, host)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("gen.key on %s is not the cluster's key with size 24, mode 0600 and the service user as owner: %s", host, ev)
	}
	return ev, nil
}

// sourceKey returns the cluster's gen.key bytes, registered as a secret:
// from the first server that holds one matching the recorded hash, else
// (own-key modes) the local file or fresh random bytes.
func sourceKey(ctx context.Context, e *steps.Env, c *Common, mode, file string) ([]byte, error) {
	want, _ := e.Fact(factGenKeySHA)
	for _, s := range c.Servers {
		l, err := resolveLayout(ctx, e, c, s.Name)
		if err != nil {
			return nil, err
		}
		h := e.Host(s.Name)
		fi, err := h.Stat(ctx, l.GenKey, l.Sudo)
		if err != nil {
			return nil, err
		}
		if !fi.Exists || (want != "" && fi.SHA256 != want) {
			continue
		}
		b, _, err := h.ReadFile(ctx, l.GenKey, l.Sudo)
		if err != nil {
			return nil, err
		}
		registerKey(e, b)
		if want == "" && mode == GenKeyFirst {
			want = sha(b)
			e.SetFact(factGenKeySHA, want)
		}
		if sha(b) == want {
			return b, nil
		}
	}
	switch mode {
	case GenKeyFile:
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("gen_key.file: %w", err)
		}
		registerKey(e, b)
		if len(b) != GenKeySize {
			return nil, fmt.Errorf("gen_key.file %s holds %d bytes; gen.key must be exactly %d bytes (M1)", file, len(b), GenKeySize)
		}
		if want != "" && sha(b) != want {
			return nil, &steps.RefusedError{Reason: fmt.Sprintf("gen_key.file %s is not the key recorded earlier in this run (sha256 %s)", file, short(want))}
		}
		e.SetFact(factGenKeySHA, sha(b))
		return b, nil
	case GenKeyGenerate:
		// Not on any server (none written yet, or interrupted before the
		// first write): nothing can be encrypted with it, so make a new one.
		b := make([]byte, GenKeySize)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		registerKey(e, b)
		e.SetFact(factGenKeySHA, sha(b))
		return b, nil
	}
	return nil, fmt.Errorf("no server holds the gen.key yet: start %s first (M2 step 5)", c.Servers[0].Name)
}

// writeKey puts key on host unless a different key is already there
// (overwriting a key that encrypts data would lose that data: refused).
func writeKey(ctx context.Context, e *steps.Env, c *Common, host string, key []byte) error {
	l, err := resolveLayout(ctx, e, c, host)
	if err != nil {
		return err
	}
	h := e.Host(host)
	fi, err := h.Stat(ctx, l.GenKey, l.Sudo)
	if err != nil {
		return err
	}
	if fi.Exists && fi.SHA256 != sha(key) {
		return &steps.RefusedError{Reason: fmt.Sprintf("%s already has a different gen.key at %s (sha256 %s, the cluster's is %s); hawiz will not overwrite a key that may encrypt data. If that server never served this deployment, move the file away yourself and resume",
			host, l.GenKey, short(fi.SHA256), short(sha(key)))}
	}
	if _, err := h.Run(ctx, remote.Cmd{Program: "mkdir", Args: []string{"-p", filepath.Dir(l.GenKey)}, Sudo: l.Sudo, Timeout: time.Minute}); err != nil {
		return err
	}
	cas := "absent"
	if fi.Exists {
		cas = fi.SHA256
	}
	_, err = h.WriteFile(ctx, l.GenKey, key, remote.WriteOptions{Mode: 0o600, Owner: l.User, IfSHA256: cas, Sudo: l.Sudo, Secret: true})
	return err
}

func placeOwnKey(ctx context.Context, e *steps.Env, a *Answers, host string) error {
	key, err := sourceKey(ctx, e, &a.Common, a.GenKey.Mode, a.GenKey.File)
	if err != nil {
		return err
	}
	return writeKey(ctx, e, &a.Common, host, key)
}

func copyKey(ctx context.Context, e *steps.Env, c *Common, host string) error {
	key, err := sourceKey(ctx, e, c, GenKeyFirst, "")
	if err != nil {
		return err
	}
	return writeKey(ctx, e, c, host, key)
}

func backupCheck(ctx context.Context, e *steps.Env, c *Common, to string) (bool, string, error) {
	if to == "" {
		return false, "no gen_key.backup_to in the answers", nil
	}
	want, err := wantKeySHA(ctx, e, c)
	if err != nil {
		return false, "", err
	}
	b, err := os.ReadFile(to)
	if err != nil {
		return false, fmt.Sprintf("no backup at %s yet", to), nil
	}
	// A link, or a copy in a directory others can write, is not the backup:
	// Apply refuses it and says why.
	st, err := os.Lstat(to)
	if err == nil && st.Mode().IsRegular() && sha(b) == want && st.Mode().Perm() == 0o600 && backupDirPrivate(to) {
		e.SetFact(factGenKeyBackup, absPath(to))
		return true, fmt.Sprintf("backup %s holds the cluster's gen.key (sha256 %s, mode 0600)", absPath(to), short(want)), nil
	}
	return false, fmt.Sprintf("%s is not a 0600 copy of the cluster's gen.key in a directory only its owner can write", to), nil
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func backupApply(ctx context.Context, e *steps.Env, c *Common, to string) error {
	first := c.Servers[0].Name
	if to == "" {
		e.Warn("", "no gen_key.backup_to given: back up gen.key from %s to a secure location yourself (M1)", first)
		return nil
	}
	ok, err := e.Operator().Confirm(ctx, fmt.Sprintf("Save a backup copy of gen.key to %s (mode 0600)?", absPath(to)), true)
	if err != nil {
		return err
	}
	if !ok {
		e.Warn("", "gen.key backup declined: back up gen.key from %s to a secure location yourself (M1)", first)
		return nil
	}
	key, err := sourceKey(ctx, e, c, GenKeyFirst, "")
	if err != nil {
		return err
	}
	if err := writeBackup(to, key); err != nil {
		return err
	}
	e.SetFact(factGenKeyBackup, absPath(to))
	e.Output("", "gen.key backup written to "+absPath(to)+" (mode 0600)")
	return nil
}

// ---- starting ----

// refuseWrongKey checks, right before a start, that host's gen.key is the
// cluster's (requireKey) or absent/the cluster's.
func refuseWrongKey(ctx context.Context, e *steps.Env, c *Common, host string, requireKey bool) error {
	l, err := resolveLayout(ctx, e, c, host)
	if err != nil {
		return err
	}
	fi, err := e.Host(host).Stat(ctx, l.GenKey, l.Sudo)
	if err != nil {
		return err
	}
	want, _ := e.Fact(factGenKeySHA)
	if !fi.Exists {
		if requireKey {
			return &steps.RefusedError{Reason: fmt.Sprintf("%s has no gen.key at %s: it would create its own and could not join (M1); copy the key first (step %s)", host, l.GenKey, StepCopyKey)}
		}
		return nil
	}
	if fi.Size != GenKeySize {
		return &steps.RefusedError{Reason: fmt.Sprintf("%s: gen.key at %s is %d bytes, not %d", host, l.GenKey, fi.Size, GenKeySize)}
	}
	if want == "" {
		if requireKey {
			w, err := wantKeySHA(ctx, e, c)
			if err != nil {
				return err
			}
			want = w
		} else {
			return nil
		}
	}
	if fi.SHA256 != want {
		return &steps.RefusedError{Reason: fmt.Sprintf("%s: gen.key at %s (sha256 %s) differs from the cluster's (sha256 %s); hawiz will not start a server with a different key (M1)", host, l.GenKey, short(fi.SHA256), short(want))}
	}
	return nil
}

func startCheck(ctx context.Context, e *steps.Env, c *Common, host string) (bool, string, error) {
	l, err := resolveLayout(ctx, e, c, host)
	if err != nil {
		return false, "", err
	}
	if v, _ := e.Fact(factKey(host, "restart")); v == "1" {
		return false, host + ": conf-mms.properties changed while it ran: restart needed", nil
	}
	up, ev, err := serverUp(ctx, e, c, e.Host(host), l)
	if err != nil || !up {
		return false, ev, err
	}
	if err := refuseWrongKey(ctx, e, c, host, true); err != nil {
		return false, ev, err
	}
	return true, ev, nil
}

func startApply(ctx context.Context, e *steps.Env, c *Common, host string, requireKey bool) error {
	l, err := resolveLayout(ctx, e, c, host)
	if err != nil {
		return err
	}
	h := e.Host(host)
	if err := refuseWrongKey(ctx, e, c, host, requireKey); err != nil {
		return err
	}
	up, err := running(ctx, e, h, l, c)
	if err != nil {
		return err
	}
	if up {
		if v, _ := e.Fact(factKey(host, "restart")); v == "1" {
			if res, err := service(ctx, e, h, l, "stop", c.StartTimeout); err != nil {
				return err
			} else if res.ExitStatus != 0 {
				return fmt.Errorf("%s failed (exit %d): %s", l.describe("stop"), res.ExitStatus, strings.TrimSpace(string(res.Stderr)))
			}
		}
	}
	ev, err := startServer(ctx, e, c, h, l)
	if err != nil {
		return err
	}
	e.Output(host, ev)
	e.SetFact(factKey(host, "restart"), "")
	// Record the key the cluster now uses (first-server mode: created by this start).
	if _, ok := e.Fact(factGenKeySHA); !ok {
		fi, err := h.Stat(ctx, l.GenKey, l.Sudo)
		if err != nil {
			return err
		}
		if !fi.Exists {
			return fmt.Errorf("%s started but there is no gen.key at %s; set paths.gen_key to where this install keeps it", host, l.GenKey)
		}
		e.SetFact(factGenKeySHA, fi.SHA256)
	}
	return nil
}

func startVerify(ctx context.Context, e *steps.Env, c *Common, host string) (string, error) {
	l, err := resolveLayout(ctx, e, c, host)
	if err != nil {
		return "", err
	}
	up, ev, err := serverUp(ctx, e, c, e.Host(host), l)
	if err != nil {
		return "", err
	}
	if !up {
		return "", fmt.Errorf("%s\nlast lines of %s:\n%s", ev, l.StartupLog, logTail(ctx, e.Host(host), l, 20))
	}
	_, kev, err := keyMatches(ctx, e, c, host)
	if err != nil {
		return "", err
	}
	if err := refuseWrongKey(ctx, e, c, host, true); err != nil {
		return "", err
	}
	return ev + "\n" + kev, nil
}

// ---- through the LB ----

func verifyLB(ctx context.Context, e *steps.Env, c *Common, lb *LoadBalancer) (string, error) {
	healthURL := lb.URL + HealthPath
	var ev []string
	// Two requests for the same URL, spaced: a cache replays Date.
	p1, err := lbGet(ctx, healthURL)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", healthURL, err)
	}
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(lb.CacheProbeGap):
	}
	p2, err := lbGet(ctx, healthURL)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", healthURL, err)
	}
	for _, p := range []Probe{p1, p2} {
		if p.Status != 200 {
			return "", fmt.Errorf("GET %s through the LB returned %d, not 200 (M2: 500 = a server or the App DB looks unhealthy)", healthURL, p.Status)
		}
	}
	ev = append(ev, fmt.Sprintf("GET %s: 200, 200 (%s apart)", healthURL, p2.Sent.Sub(p1.Sent).Round(10*time.Millisecond)))
	// Tagged requests: each server's access log tells whether it got one.
	tag := nonce()
	n := lb.Requests
	if n == 0 {
		n = 4 * len(c.Servers)
	}
	probes := []Probe{p1, p2}
	byHeader := map[string]int{}
	for i := 0; i < n; i++ {
		p, err := lbGet(ctx, fmt.Sprintf("%s?%s-%d", healthURL, tag, i))
		if err != nil {
			return "", fmt.Errorf("GET %s through the LB: %w", healthURL, err)
		}
		if p.Status != 200 {
			return "", fmt.Errorf("GET %s through the LB returned %d on request %d of %d", healthURL, p.Status, i+1, n)
		}
		probes = append(probes, p)
		for _, hname := range backendHeaders {
			if v := p.Header.Get(hname); v != "" {
				byHeader[hname+": "+v]++
			}
		}
	}
	if signs := CacheSigns(probes); len(signs) > 0 {
		return "", &steps.RefusedError{Reason: "the load balancer returns cached content; the docs require caching off (M1, M6): " + strings.Join(signs, "; ")}
	}
	ev = append(ev, fmt.Sprintf("no sign of a cache in %d responses (Age, X-Cache, Cache-Control, Date)", len(probes)))
	seen, err := forEachServer(ctx, c.serverNames(), func(ctx context.Context, name string) (string, error) {
		l, err := resolveLayout(ctx, e, c, name)
		if err != nil {
			return "", err
		}
		res, err := e.Host(name).Run(ctx, remote.Cmd{Program: "grep", Args: []string{"-c", "-F", tag, l.AccessLog}, Sudo: l.Sudo, Timeout: time.Minute})
		if err != nil {
			return "", err
		}
		switch res.ExitStatus {
		case 0, 1:
			return strings.TrimSpace(string(res.Stdout)), nil
		}
		return "?", nil
	})
	if err != nil {
		return "", err
	}
	var missing, unknown []string
	var per []string
	for i, s := range seen {
		name := c.Servers[i].Name
		switch s {
		case "?":
			unknown = append(unknown, name)
		case "0":
			missing = append(missing, name)
		}
		per = append(per, name+" "+s)
	}
	ev = append(ev, fmt.Sprintf("tagged requests found in each server's access log: %s (of %d)", strings.Join(per, ", "), n))
	if len(byHeader) > 0 {
		var hs []string
		for k, v := range byHeader {
			hs = append(hs, fmt.Sprintf("%s ×%d", k, v))
		}
		sort.Strings(hs)
		ev = append(ev, "backend headers: "+strings.Join(hs, ", "))
	}
	if len(unknown) > 0 {
		e.Warn("", "could not read the access log of %s: cannot tell whether the LB sends them requests", strings.Join(unknown, ", "))
	}
	if len(missing) > 0 && *lb.CheckBackends {
		return "", fmt.Errorf("the LB sent none of %d requests to %s (its pool or health check leaves them out; set load_balancer.check_backends: false if the LB is sticky by design)",
			n, strings.Join(missing, ", "))
	}
	return strings.Join(ev, "\n"), nil
}

// ---- agents ----

func (a *Answers) agent(name string) *Agent {
	for i := range a.Agents {
		if a.Agents[i].Name == name {
			return &a.Agents[i]
		}
	}
	return nil
}

func agentSudo(a *Answers) bool { return a.SSH.Sudo != steps.SudoNone }

func agentCheck(ctx context.Context, e *steps.Env, a *Answers, host string) (bool, string, error) {
	g := a.agent(host)
	b, _, err := e.Host(host).ReadFile(ctx, g.ConfigPath, agentSudo(a))
	if err != nil {
		return false, "", err
	}
	v, _ := ParseProps(b).Get(KeyAgentBase)
	return v == a.LoadBalancer.URL, fmt.Sprintf("%s: %s=%s in %s", host, KeyAgentBase, v, g.ConfigPath), nil
}

func agentArgv(g *Agent, action string) []string {
	if g.ServiceManager == "service" {
		return []string{"service", g.Service, action}
	}
	return []string{"systemctl", action, g.Service}
}

func agentApply(ctx context.Context, e *steps.Env, a *Answers, host string) error {
	g := a.agent(host)
	h := e.Host(host)
	b, fi, err := h.ReadFile(ctx, g.ConfigPath, agentSudo(a))
	if err != nil {
		return err
	}
	p := ParseProps(b)
	p.Set(KeyAgentBase, a.LoadBalancer.URL)
	if _, err := h.WriteFile(ctx, g.ConfigPath, p.Bytes(), remote.WriteOptions{IfSHA256: fi.SHA256, Backup: true, Sudo: agentSudo(a), Secret: true}); err != nil {
		return err
	}
	argv := agentArgv(g, "restart")
	res, err := h.Run(ctx, remote.Cmd{Program: argv[0], Args: argv[1:], Sudo: agentSudo(a), Timeout: 5 * time.Minute})
	if err != nil {
		return err
	}
	if res.ExitStatus != 0 {
		return fmt.Errorf("%s: %s (exit %d): %s", host, strings.Join(argv, " "), res.ExitStatus, strings.TrimSpace(string(res.Stderr)))
	}
	return nil
}

func agentVerify(ctx context.Context, e *steps.Env, a *Answers, host string) (string, error) {
	ok, ev, err := agentCheck(ctx, e, a, host)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%s", ev)
	}
	g := a.agent(host)
	argv := agentArgv(g, "status")
	if g.ServiceManager != "service" {
		argv = []string{"systemctl", "is-active", "--quiet", g.Service}
	}
	res, err := e.Host(host).Run(ctx, remote.Cmd{Program: argv[0], Args: argv[1:], Sudo: agentSudo(a), Timeout: time.Minute})
	if err != nil {
		return "", err
	}
	if res.ExitStatus != 0 {
		return "", fmt.Errorf("%s: the agent (%s) is not running after the restart", host, g.Service)
	}
	return ev + "; " + g.Service + " running", nil
}

// ---- summary ----

func keepSafe(e *steps.Env, a *Answers) (string, error) {
	sum, _ := e.Fact(factGenKeySHA)
	where, ok := e.Fact(factGenKeyBackup)
	var msg string
	if ok && where != "" {
		msg = fmt.Sprintf("gen.key backup: %s (mode 0600, sha256 %s). Keep it safe and off these servers: it decrypts the backing databases and credentials; any shared storage holding it must itself be highly available (M1).", where, short(sum))
	} else {
		msg = fmt.Sprintf("No gen.key backup was made by hawiz: copy gen.key (sha256 %s) from %s to a secure location now (M1).", short(sum), a.Servers[0].Name)
		e.Warn("", "%s", msg)
	}
	e.Output("", msg)
	return msg, nil
}

// maskURI hides credentials in mongodb:// URIs (also ones hawiz did not
// write, whose password the redactor does not know).
func maskURI(e *steps.Env, s string) string {
	s = uriCredRE.ReplaceAllString(s, "${1}[REDACTED]@")
	return e.Redactor().Redact(s)
}

var uriCredRE = regexp.MustCompile(`(mongodb(?:\+srv)?://)[^@/\s]*@`)
