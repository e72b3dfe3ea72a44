package backup

import (
	"fmt"
	"time"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/event"
)

// Actions the backup-manager function takes.
const (
	ActionCreate    = "create"    // take a snapshot
	ActionPrune     = "prune"     // apply retention
	ActionVerify    = "verify"    // restore test of a snapshot
	ActionScheduled = "scheduled" // create, then prune: what the schedule does
)

// Request is what the backup-manager function is asked to do.
type Request struct {
	Action   string `json:"action"`
	Snapshot string `json:"snapshot,omitempty"` // verify: which one ("" latest)
	Keep     *int   `json:"keep,omitempty"`     // prune: overrides the environment
	MaxAge   string `json:"max_age,omitempty"`  // prune: "30d", "12h"
	DryRun   bool   `json:"dry_run,omitempty"`

	maxAge time.Duration
}

// Retention returns the request's retention, with defaults for what it
// leaves out.
func (r Request) Retention(keep int, maxAge time.Duration) Retention {
	out := Retention{Keep: keep, MaxAge: maxAge, DryRun: r.DryRun}
	if r.Keep != nil {
		out.Keep = *r.Keep
	}
	if r.MaxAge != "" {
		out.MaxAge = r.maxAge
	}
	return out
}

// ParseRequest reads an invocation payload: an EventBridge scheduled event
// (create, then prune), or a Request. Unknown fields and actions are errors.
func ParseRequest(b []byte) (Request, error) {
	var r Request
	p, err := event.Decode(b)
	switch {
	case err != nil:
		return r, fmt.Errorf("backup request: %w", err)
	case p.Event != nil:
		if p.Event.DetailType != event.Scheduled {
			return r, fmt.Errorf("backup request: an EventBridge event of type %q: only scheduled events take backups", p.Event.DetailType)
		}
		r.Action = ActionScheduled
		return r, nil
	case p.Request == nil:
		return r, fmt.Errorf(`backup request: empty: want {"action":"create"}, "prune", "verify", or a scheduled event`)
	}
	if err := event.Strict(p.Request, &r); err != nil {
		return r, fmt.Errorf(`backup request: %w: want {"action":"create"}, {"action":"prune","keep":7,"max_age":"30d"} or {"action":"verify"}`, err)
	}
	switch r.Action {
	case ActionCreate, ActionPrune, ActionVerify, ActionScheduled:
	default:
		return r, fmt.Errorf("backup request: action %q: use create, prune, verify or scheduled", r.Action)
	}
	if r.Keep != nil && *r.Keep < 0 {
		return r, fmt.Errorf("backup request: keep %d: use 0 or more", *r.Keep)
	}
	if r.MaxAge != "" {
		a, err := config.ParseAge(r.MaxAge)
		if err != nil {
			return r, fmt.Errorf("backup request: max_age: %w", err)
		}
		r.maxAge = a
	}
	return r, nil
}
