package micetro

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// Steps stop-removed-member and remove-cluster-member-name of
// micetro-remove-member: on the removed member's server, stop Central, then
// take ClusterMemberName out of its preferences.cfg (one write:
// compare-and-swap on the content read, a backup kept). The documents
// describe neither: they are the reverse of the HA procedure's steps 10–12
// (stop Central on the new member, give it the primary's preferences.cfg
// with its own ClusterMemberName, start it), [derived].
// Docs: https://docs.menandmice.com/en/latest/guides/implementation/central_ha.html
// (Linux or Windows, steps 10–12, reversed).

func removeStopStep(a *RemoveAnswers) *steps.Step {
	x := a.removed()
	c := &a.Common
	return &steps.Step{
		ID:     StepRmStop,
		Title:  fmt.Sprintf("On %s, stop Central", x.Name),
		Why:    "the documents are silent on the removed server; hawiz stops its Central so it no longer runs against the cluster's database (the reverse of step 12, \"Start Central on the secondary server\") [derived]",
		DocRef: docRefs(reversed(a, x, hsStartMember), refEditMembers("Remove Member")),
		Hosts:  []string{x.Host.Name},
		Mode:   steps.Once,
		Actions: []string{
			stopCommand(c, x) + " on " + x.Host.Name + "; then the service is not active, no " + c.daemonProcess(x) + " process runs and port 1231 is closed",
		},
		Check: func(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
			h, err := e.Host(hn)
			if err != nil {
				return false, "", err
			}
			return stopped(ctx, c, h, x)
		},
		Apply: func(ctx context.Context, e *steps.Env, hn string) error {
			h, err := e.Host(hn)
			if err != nil {
				return err
			}
			markChanged(e, hn)
			_, err = service(ctx, c, h, x, remote.ServiceStop)
			return err
		},
		Verify: func(ctx context.Context, e *steps.Env, hn string) (string, error) {
			h, err := e.Host(hn)
			if err != nil {
				return "", err
			}
			down, ev, err := stopped(ctx, c, h, x)
			if err == nil && !down {
				err = notStoppedErr(c, x, ev)
			}
			return ev, err
		},
	}
}

// reversed is the HA page's step s for member m, named as the step this
// one undoes.
func reversed(a *RemoveAnswers, m *Member, s haStep) docRef {
	r := haRef(&a.HAAnswers, m, s)
	r.Section += ", reversed: the documents describe no removal on the server"
	return r
}

func removeNameStep(a *RemoveAnswers) *steps.Step {
	x := a.removed()
	c := &a.Common
	path := c.prefsPath(x)
	return &steps.Step{
		ID:     StepRmName,
		Title:  fmt.Sprintf("On %s, remove ClusterMemberName from preferences.cfg", x.Name),
		Why:    "the documents are silent; hawiz takes out the line step 11 gave the member, so a later start of this Central does not rejoin the cluster as " + x.Name + " [derived]",
		DocRef: docRefs(reversed(a, x, hsCopyPreferences), refEditMembers("Remove Member")),
		Hosts:  []string{x.Host.Name},
		Mode:   steps.Once,
		Actions: []string{
			fmt.Sprintf("Central must be stopped on %s; remove the line <%s value=%q/> from %s (compare-and-swap on the content read, a backup kept); every other byte unchanged", x.Host.Name, ElemClusterMemberName, x.Name, path),
		},
		Check: func(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
			pr, _, err := removeRead(ctx, e, a)
			if err != nil {
				return false, "", err
			}
			if ls := pr.Find(ElemClusterMemberName); len(ls) > 0 {
				return false, fmt.Sprintf("%s line %d: %s", path, ls[0].No, strings.TrimSpace(ls[0].Text)), nil
			}
			return true, path + " names no cluster member", nil
		},
		Apply: func(ctx context.Context, e *steps.Env, hn string) error {
			h, err := e.Host(hn)
			if err != nil {
				return err
			}
			down, ev, err := stopped(ctx, c, h, x)
			if err != nil {
				return err
			}
			if !down {
				return fmt.Errorf("Central is not stopped on %s (%s): hawiz edits preferences.cfg only while it is stopped; nothing was changed", x.Host.Name, ev)
			}
			pr, info, err := removeRead(ctx, e, a)
			if err != nil {
				return err
			}
			out, gone, err := removeElement(pr, ElemClusterMemberName, x.Name)
			if err != nil {
				return fmt.Errorf("%s on %s: %w", path, x.Host.Name, err)
			}
			if len(gone) == 0 {
				return nil
			}
			return writePrefs(ctx, e, c, h, x, out, info.SHA256)
		},
		Verify: func(ctx context.Context, e *steps.Env, hn string) (string, error) {
			pr, info, err := removeRead(ctx, e, a)
			if err != nil {
				return "", err
			}
			if ls := pr.Find(ElemClusterMemberName); len(ls) > 0 {
				return "", fmt.Errorf("%s on %s still has line %d: %s", path, x.Host.Name, ls[0].No, ls[0].Text)
			}
			if probs := pr.Problems(); len(probs) > 0 {
				return "", fmt.Errorf("%s on %s: %v", path, x.Host.Name, probs)
			}
			b, err := pr.Backend()
			if err != nil {
				return "", fmt.Errorf("%s on %s %v", path, x.Host.Name, err)
			}
			return fmt.Sprintf("%s: no ClusterMemberName; database %s still named; sha256 %s", path, b, short(info.SHA256)), nil
		},
	}
}

// removeRead reads the removed member's preferences.cfg, which must exist.
func removeRead(ctx context.Context, e *steps.Env, a *RemoveAnswers) (*Prefs, remote.FileInfo, error) {
	x := a.removed()
	h, err := e.Host(x.Host.Name)
	if err != nil {
		return nil, remote.FileInfo{}, err
	}
	pr, info, err := readPrefs(ctx, &a.Common, h, x)
	if err == nil && pr == nil {
		err = fmt.Errorf("%s does not exist on %s", a.prefsPath(x), x.Host.Name)
	}
	return pr, info, err
}

// errOtherName: the element names another value than the one to remove.
var errOtherName = errors.New("names another member")

// removeElement returns p's content without the lines of element name
// (case-insensitive), each with its line ending; every other byte is
// unchanged. Every such line must hold value (else errOtherName: hawiz
// never removes a name it was not asked to) and parse with ASCII quotes.
// gone lists the lines removed (none: out is p's content).
func removeElement(p *Prefs, name, value string) (out []byte, gone []PrefLine, err error) {
	ls := p.Find(name)
	for _, l := range ls {
		if l.Value != value {
			return nil, nil, fmt.Errorf("line %d <%s value=%q/> %w, not %q: fix it by hand", l.No, name, l.Value, errOtherName, value)
		}
	}
	if len(ls) == 0 {
		return p.Bytes(), nil, nil
	}
	raw := p.Bytes()
	var b bytes.Buffer
	off := 0
	for _, l := range ls {
		end := l.end
		switch {
		case bytes.HasPrefix(raw[end:], []byte("\r\n")):
			end += 2
		case bytes.HasPrefix(raw[end:], []byte("\n")):
			end++
		}
		b.Write(raw[off:l.start])
		off = end
	}
	b.Write(raw[off:])
	return b.Bytes(), ls, nil
}
