package steps

// How the operator's confirmations were given, and which host keys the
// run trusted: what the evidence report shows a change board. Public
// facts only (fingerprints, never key material or secrets).

import (
	"sort"
	"time"

	"github.com/hawiz/hawiz/remote"
)

// How a confirmation was given, or a host key accepted (HostState.ConfirmedBy,
// Question.By, HostKey.AcceptedBy).
const (
	ByTUI         = "tui"         // in the full-screen TUI
	ByPrompt      = "prompt"      // at a line prompt (hawiz run at a terminal, the accessible wizard)
	ByConfirmFlag = "--confirm"   // hawiz resume --confirm STEP
	ByYesFlag     = "--yes"       // --yes: host keys accepted, yes/no questions answered yes
	ByDemo        = "demo"        // hawiz demo --plain confirms its own steps
	ByOperator    = "operator"    // an Operator that does not say how (AnswerSource)
	ByKnownHosts  = "known_hosts" // host key: recorded in known_hosts before the run connected
	ByCertificate = "certificate" // host key: a valid host certificate from a @cert-authority CA
)

// AnswerSource is implemented by an Operator that says how its answers are
// given (ByTUI, ByPrompt, ByYesFlag, ByDemo): the state and the evidence
// report record it with every confirmation.
type AnswerSource interface {
	AnswersBy() string
}

// AnswersBy implements AnswerSource: what NonInteractive accepts or answers
// yes, it does because of --yes.
func (NonInteractive) AnswersBy() string { return ByYesFlag }

// answersBy is how op gives its answers.
func answersBy(op Operator) string {
	if l, ok := op.(*lockedOperator); ok {
		op = l.op
	}
	if s, ok := op.(AnswerSource); ok && s.AnswersBy() != "" {
		return s.AnswersBy()
	}
	return ByOperator
}

// HostKey is a host key the run's connections were made with and how it
// came to be trusted.
type HostKey struct {
	Host        string `json:"host"`     // the answers' host name, or a ProxyJump hop as written
	Address     string `json:"address"`  // host:port as dialled
	KeyType     string `json:"key_type"` // e.g. ssh-ed25519, or a *-cert-v01@openssh.com type
	Fingerprint string `json:"fingerprint"`
	// AcceptedBy is ByKnownHosts, ByCertificate, or how the operator
	// accepted the unknown key (ByTUI, ByPrompt, ByYesFlag, ByDemo).
	AcceptedBy string    `json:"accepted_by"`
	CA         string    `json:"ca,omitempty"` // ByCertificate: the CA key's type and fingerprint
	When       time.Time `json:"when"`         // when the run first connected with it
}

// Question is a yes/no question a step asked and its answer.
type Question struct {
	Step     string    `json:"step,omitempty"` // the step running when it was asked
	Question string    `json:"question"`       // redacted
	Yes      bool      `json:"yes"`
	By       string    `json:"by"` // ByTUI, ByPrompt, ByYesFlag, ByDemo
	When     time.Time `json:"when"`
}

// recordHostKeys adds the fleet's host keys to the state (not saved here:
// the next save writes them). A key the state holds already keeps how it
// was first accepted: a resume finds it in known_hosts.
func (r *runner) recordHostKeys(fleet *remote.Fleet) {
	if fleet == nil || r.st == nil {
		return
	}
	by := answersBy(r.op)
	when := time.Now().UTC()
	keys := fleet.HostKeys() // in the order the parallel dials verified them
	sort.SliceStable(keys, func(i, j int) bool {
		if keys[i].Host != keys[j].Host {
			return keys[i].Host < keys[j].Host
		}
		return keys[i].Address < keys[j].Address
	})
	r.mu.Lock()
	defer r.mu.Unlock()
next:
	for _, k := range keys {
		for _, o := range r.st.HostKeys {
			if o.Host == k.Host && o.Address == k.Address && o.KeyType == k.KeyType && o.Fingerprint == k.Fingerprint {
				continue next
			}
		}
		hk := &HostKey{Host: k.Host, Address: k.Address, KeyType: k.KeyType, Fingerprint: k.Fingerprint, CA: k.CA, When: when}
		switch k.Trust {
		case remote.TrustAccepted:
			hk.AcceptedBy = by
		case remote.TrustCertificate:
			hk.AcceptedBy = ByCertificate
		default:
			hk.AcceptedBy = ByKnownHosts
		}
		r.st.HostKeys = append(r.st.HostKeys, hk)
	}
}

// answered records a yes/no question the operator answered (not saved
// here: the next save writes it).
func (r *runner) answered(question string, yes bool) {
	if r.st == nil {
		return
	}
	step, _ := r.curStep.Load().(string)
	q := &Question{Step: step, Question: r.redactor.Redact(question), Yes: yes, By: answersBy(r.op), When: time.Now().UTC()}
	r.mu.Lock()
	r.st.Questions = append(r.st.Questions, q)
	r.mu.Unlock()
}

// byText is how a confirmation was given, for the evidence report.
func byText(by string) string {
	switch by {
	case ByTUI:
		return "in the TUI"
	case ByPrompt:
		return "at a line prompt"
	case ByConfirmFlag:
		return "with the --confirm flag"
	case ByYesFlag:
		return "with --yes"
	case ByDemo:
		return "by the demo itself"
	case ByKnownHosts:
		return "already in known_hosts"
	case ByCertificate:
		return "host certificate from a @cert-authority CA"
	case "":
		return "(how it was given is not recorded: an older hawiz)"
	}
	return "by the operator"
}
