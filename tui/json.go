package tui

import (
	"encoding/json"
	"io"
	"sync"

	"github.com/hawiz/hawiz/steps"
)

// JSONRenderer prints one JSON object per event (steps.Event's JSON form:
// time, kind, procedure, step, index, total, host, title, message, output,
// evidence, exit_status, elapsed_ns, manual, status, state), for --json.
type JSONRenderer struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewJSONRenderer returns a JSONRenderer writing to w.
func NewJSONRenderer(w io.Writer) *JSONRenderer {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &JSONRenderer{enc: enc}
}

// Event prints ev as one line of JSON.
func (j *JSONRenderer) Event(ev steps.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	_ = j.enc.Encode(ev)
}
