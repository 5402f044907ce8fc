package steps

import (
	"log/slog"

	"github.com/hawiz/hawiz/remote"
)

// RunConfig is one run (or resume) of a procedure.
type RunConfig struct {
	Procedure *Procedure
	// Answers are validated answers (LoadAnswers). nil with Resume: loaded
	// from the state file.
	Answers     Answers
	AnswersFile string // path as given, recorded in the state for humans

	// StatePath is the checkpoint file; "" = DefaultStatePath(Getenv, Procedure.Name, RunName).
	StatePath string
	RunName   string // default "default"
	// Resume continues an existing state (`hawiz resume`). Without it the
	// state must not exist yet, unless that run finished (status done).
	Resume bool
	// ResumeCommand, when set, is the command hawiz prints to continue a
	// stopped run instead of `hawiz resume --state FILE` (`hawiz rollback
	// --state FILE`; the demo's `hawiz demo`, as its fleet is gone once it
	// exits). The flags that get past where the run stopped (`--confirm
	// STEP`, `--yes`) are added to it, unless ResumeFixed: a command that
	// takes no such flags (the demo, whose operator answers everything).
	ResumeCommand string
	ResumeFixed   bool

	Renderer Renderer // nil = discard
	Operator Operator // nil = NonInteractive{Yes: Yes}
	Yes      bool     // answer yes to confirmations (never to manual steps)

	From    string   // start at this step (earlier steps are left as they are)
	Only    string   // run just this step
	Redo    []string // apply these steps even when Check says done
	Skip    []string // mark these steps skipped without running them
	Confirm []string // manual steps the operator has done (`hawiz resume --confirm STEP`)

	// Remote holds the base connection options (known_hosts, ssh_config,
	// agent). The engine sets ConfirmHostKeys (via Operator), Transcript,
	// Redactor, Logger and Passphrase; SSH answers override
	// KnownHostsFile/SSHConfigFile when set.
	Remote   remote.Options
	Redactor *remote.Redactor    // shared with the --log handler; nil = new
	Logger   *slog.Logger        // nil = discard
	Getenv   func(string) string // nil = os.Getenv (secrets, XDG_STATE_HOME)

	ToolVersion string // recorded in the state

	// Hook, for crash tests, is called at every transition point: point is
	// "before-save" or "after-save" with the running count n (1-based); and
	// "synced" (between the two) when save n was fsynced: the write-ahead
	// "started" before an Apply, an operator's confirmation or skip, the end.
	Hook func(point string, n int)
}

// Outcome is how a run ended.
type Outcome struct {
	Status    Status // done | failed | stopped | waiting | refused
	StatePath string
	Step      string // the step it stopped or failed at ("" when done)
	Host      string
	Resume    string   // command that continues the run ("" when done)
	Drift     []string // Audit: what does not hold
}
