// ha_preflight_servers.go: step preflight-servers of opsmanager-ha, the
// inventory of every Application server before anything is changed
// (procedures.md A-0 [derived]; gen.key paths from
// https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/
// "gen.key", M1; installs M9, M10; startup M11).

package opsmanager

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

func haPreflightServers(a *Answers) *steps.Step {
	c := &a.Common
	return &steps.Step{
		ID:     StepPreflight,
		Title:  "Preflight: inventory every Application server",
		Why:    "every server needs the same Ops Manager version, its conf-mms.properties, and a known gen.key location (install type decides it)",
		DocRef: docRefs(refGenKey, refInstallRPM, refInstallArchive, refStartStop),
		Actions: []string{
			"on every server: install type (dpkg-query/rpm -q mongodb-mms, or <install_dir>/bin/mongodb-mms); version; running or not",
			"stat conf-mms.properties; read mms.conf (MMS_USER, ENC_KEY_PATH)",
			"stat every server's gen.key (size and SHA-256, computed on the server; the bytes are never read): a key any server holds is the deployment's, whatever gen_key.mode says; two different keys stop the run here, naming the servers",
			"from every server: a TCP connection to every App DB member of appdb.uri (unless appdb.live_check is off), to the load balancer's address (a warning until it is configured), the time service says the clock is synchronised, clocks within 5s of each other; a failure stops the run before any change",
			"say which servers are already in the deployment: conf-mms.properties already means the answers, the deployment's gen.key, running with /monitor/health 200; every step leaves those alone (no write, no stop, no restart), and a server being added is started and checked before any running server is restarted",
		},
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) {
			ev, err := preflight(ctx, e, c)
			if err != nil {
				return "", err
			}
			kev, err := preflightGenKey(ctx, e, a)
			if err != nil {
				return "", err
			}
			pev, err := preflightPlacement(ctx, e, a)
			if err != nil {
				return "", err
			}
			nev, err := netPreflight(ctx, e, c, &a.AppDB, &a.LoadBalancer, false)
			if err != nil {
				return "", err
			}
			return ev + "\n" + kev + "\n" + pev + "\n" + nev, nil
		},
	}
}

// preflightGenKey finds the deployment's gen.key before anything changes:
// a key any server already holds is the deployment's, whatever
// gen_key.mode says (it may encrypt data, M1), and is placed on every other
// server before any starts (step place-own-gen-key). Two different keys,
// or gen_key.file other than the deployment's key, stop the run here.
func preflightGenKey(ctx context.Context, e *steps.Env, a *Answers) (string, error) {
	want, keys, err := deploymentKey(ctx, e, &a.Common)
	if err != nil {
		return "", err
	}
	if want == "" {
		switch a.GenKey.Mode {
		case GenKeyFile:
			return "gen.key: no server holds one; gen_key.file is placed on every server before any starts", nil
		case GenKeyGenerate:
			return "gen.key: no server holds one; hawiz generates one and places it on every server before any starts", nil
		}
		return fmt.Sprintf("gen.key: no server holds one; %s creates it at its first start and it is copied to the others before they start ("+docRefs(refStartFirstStep, refCopyKeyStep)+")", a.Servers[0].Name), nil
	}
	var holders, lacking []string
	for _, k := range keys {
		if k.fi.Exists {
			holders = append(holders, k.name)
		} else {
			lacking = append(lacking, k.name)
		}
	}
	if a.GenKey.Mode == GenKeyFile {
		b, err := os.ReadFile(a.GenKey.File)
		if err != nil {
			return "", fmt.Errorf("gen_key.file: %w", err)
		}
		registerKey(e, b)
		if sha(b) != want {
			return "", &steps.RefusedError{Reason: fmt.Sprintf("gen_key.file %s (sha256 %s) is not the gen.key %s already hold(s) (sha256 %s): that key is the deployment's and may encrypt data ("+refGenKey.String()+"); hawiz will not place a different one. Remove gen_key.file to use the deployment's key", a.GenKey.File, short(sha(b)), strings.Join(holders, ", "), short(want))}
		}
	}
	ev := fmt.Sprintf("gen.key: the deployment's key (sha256 %s) is on %s", short(want), strings.Join(holders, ", "))
	if a.GenKey.Mode != GenKeyFirst && a.GenKey.Mode != "" {
		ev += fmt.Sprintf(" (used instead of gen_key.mode %s: a key a server already holds may encrypt data)", a.GenKey.Mode)
	}
	if len(lacking) > 0 {
		ev += fmt.Sprintf("; it is copied to %s before any server starts", strings.Join(lacking, ", "))
	}
	return ev, nil
}

// preflight inventories every server at once; they must all run one
// version.
func preflight(ctx context.Context, e *steps.Env, c *Common) (string, error) {
	names := c.serverNames()
	versions := make([]string, len(c.Servers))
	lines, err := forEachServer(ctx, names, func(ctx context.Context, name string) (string, error) {
		line, v, err := inventoryServer(ctx, e, c, name)
		if v != "" {
			versions[indexOf(names, name)] = v
		}
		return line, err
	})
	if err != nil {
		return "", err
	}
	for i, v := range versions {
		if v != versions[0] {
			return "", fmt.Errorf("Ops Manager versions differ: %s runs %s, %s runs %s; every server must run the same version (upgrade first: %s)",
				c.Servers[0].Name, versions[0], c.Servers[i].Name, v, refUpgradeMode)
		}
	}
	return strings.Join(lines, "\n"), nil
}

// inventoryServer describes one server (install, version, state, service
// user, conf-mms.properties, gen.key, service command) and returns its
// version.
func inventoryServer(ctx context.Context, e *steps.Env, c *Common, name string) (string, string, error) {
	h, err := e.Host(name)
	if err != nil {
		return "", "", err
	}
	s := c.server(name)
	l, err := resolveLayout(ctx, e, c, name)
	if err != nil {
		return "", "", err
	}
	if s.Install == InstallTar {
		if err := checkTarBinary(ctx, h, s, l); err != nil {
			return "", "", err
		}
	}
	v, err := installedVersion(ctx, h, l)
	if err != nil {
		return "", "", err
	}
	if err := warnLegacyConf(ctx, e, h, l); err != nil {
		return "", v, err
	}
	key, err := genKeySummary(ctx, h, l)
	if err != nil {
		return "", v, err
	}
	fwdOK, fwd, err := steps.CheckHTTPProbe(ctx, e, name)
	if err != nil {
		return "", v, err
	}
	up, _ := running(ctx, e, h, l, c)
	state := "stopped"
	if up {
		state = "running"
	}
	line := fmt.Sprintf("%s: %s install at %s, Ops Manager %s, %s; service user %s; conf %s; %s at %s; service: %s",
		name, s.Install, s.InstallDir, v, state, l.User, l.Conf, key, l.GenKey, l.describe("start"))
	if !fwdOK {
		line += "; " + fwd
	}
	return line, v, nil
}

// checkTarBinary: a tar install's install_dir holds bin/mongodb-mms (M10).
func checkTarBinary(ctx context.Context, h *remote.Host, s *Server, l layout) error {
	fi, err := h.Stat(ctx, filepath.Join(s.InstallDir, "bin", "mongodb-mms"), l.Sudo)
	if err != nil {
		return err
	}
	if !fi.Exists {
		return fmt.Errorf("%s: install: tar, but %s/bin/mongodb-mms does not exist ("+refInstallArchive.String()+")", h.Name(), s.InstallDir)
	}
	return nil
}

// warnLegacyConf reads conf-mms.properties (it must exist, M4) and warns
// about the legacy replica-set key.
func warnLegacyConf(ctx context.Context, e *steps.Env, h *remote.Host, l layout) error {
	b, _, err := h.ReadFile(ctx, l.Conf, l.Sudo)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %s does not exist ("+refConfigFile.String()+")", h.Name(), l.Conf)
		}
		return err
	}
	if _, ok := ParseProps(b).Get(KeyReplicaSet); ok {
		e.Warn(h.Name(), "%s sets the legacy %s (MMS-era docs); current docs do not list it ("+refConfigFile.String()+") and it may be obsolete ([OBSOLETE SETTING] stops startup: "+refObsolete.String()+"): consider removing it", l.Conf, KeyReplicaSet)
	}
	return nil
}

// genKeySummary says whether the server holds a gen.key and what it looks
// like (size, owner, mode, the start of its hash; never its bytes).
func genKeySummary(ctx context.Context, h *remote.Host, l layout) (string, error) {
	kfi, err := h.Stat(ctx, l.GenKey, l.Sudo)
	if err != nil {
		return "", err
	}
	if !kfi.Exists {
		return "no gen.key yet", nil
	}
	return fmt.Sprintf("gen.key %d bytes, %s, %s, sha256 %s…", kfi.Size, kfi.Owner, kfi.Mode.Perm(), kfi.SHA256[:min(12, len(kfi.SHA256))]), nil
}
