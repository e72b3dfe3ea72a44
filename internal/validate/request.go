package validate

import (
	"errors"
	"fmt"
	"time"

	"github.com/pilotlight/pilotlight/internal/event"
	"github.com/pilotlight/pilotlight/internal/validate/digest"
)

// Request is what the data-validator function is asked to do. The zero
// request (or a scheduled event) validates everything in one invocation.
type Request struct {
	// Segments and SegmentRange fan a digest pass out: the invocation scans
	// only that range and returns a Partial.
	Segments     int    `json:"segments,omitempty"`
	SegmentRange string `json:"segment_range,omitempty"`
	Buckets      int    `json:"buckets,omitempty"`
	// Settle is the settle window ("5s"; "0s" for none).
	Settle string `json:"settle,omitempty"`
	// NoObjects compares the tables only.
	NoObjects bool `json:"no_objects,omitempty"`
	// Partials finishes a fanned-out run: they are merged and compared.
	Partials []*Partial `json:"partials,omitempty"`
	// Scheduled marks an EventBridge schedule's event.
	Scheduled bool `json:"-"`

	settle time.Duration
	seg    Segments
}

// SettleWindow is the parsed settle window: 0 when unset (the validator's
// default), negative for an explicit "0s" (no window).
func (r Request) SettleWindow() time.Duration { return r.settle }

// Range is the parsed segment range; ok is false for a whole-table run.
func (r Request) Range() (Segments, bool) { return r.seg, r.SegmentRange != "" }

// ParseRequest reads an invocation payload: an EventBridge scheduled event,
// an empty payload, or a Request. Unknown fields are errors, so a typo does
// not silently become a full run.
func ParseRequest(b []byte) (Request, error) {
	var r Request
	p, err := event.Decode(b)
	switch {
	case err != nil:
		return r, fmt.Errorf("validator request: %w", err)
	case p.Event != nil:
		if p.Event.DetailType != event.Scheduled {
			return r, fmt.Errorf("validator request: an EventBridge event of type %q: only scheduled events start a validation", p.Event.DetailType)
		}
		r.Scheduled = true
		return r, nil
	case p.Request == nil:
		return r, nil
	}
	if err := event.Strict(p.Request, &r); err != nil {
		return r, fmt.Errorf(`validator request: %w: want {"segments":16,"segment_range":"0-7"}, {"partials":[...]} or {}`, err)
	}
	if r.Settle != "" {
		s, err := time.ParseDuration(r.Settle)
		if err != nil || s < 0 {
			return r, fmt.Errorf("validator request: settle %q: write it like 5s", r.Settle)
		}
		r.settle = s
		if s == 0 {
			r.settle = -1
		}
	}
	if r.Buckets < 0 || r.Buckets > 1<<20 {
		return r, fmt.Errorf("validator request: buckets %d: use 1 to %d", r.Buckets, 1<<20)
	}
	if r.SegmentRange != "" {
		if r.Segments == 0 {
			return r, errors.New("validator request: segment_range needs segments (the total split)")
		}
		seg, err := ParseSegmentRange(r.SegmentRange, r.Segments)
		if err != nil {
			return r, fmt.Errorf("validator request: %w", err)
		}
		r.seg = seg
		if len(r.Partials) > 0 {
			return r, errors.New("validator request: give either segment_range (scan) or partials (compare), not both")
		}
	} else if r.Segments != 0 {
		if err := AllSegments(r.Segments).Check(); err != nil {
			return r, fmt.Errorf("validator request: %w", err)
		}
	}
	for i, p := range r.Partials {
		if p == nil || p.Table == "" || len(p.Keys) == 0 || p.Buckets < 1 {
			return r, fmt.Errorf("validator request: partial %d is incomplete: pass the partials the segment-range invocations returned", i)
		}
		if err := p.Segments.Check(); err != nil {
			return r, fmt.Errorf("validator request: partial %d: %w", i, err)
		}
		for reg, d := range p.Digests {
			if len(d) != p.Buckets {
				return r, fmt.Errorf("validator request: partial %d: %s has %d buckets, want %d", i, reg, len(d), p.Buckets)
			}
		}
	}
	return r, nil
}

// MergePartials merges partials of disjoint segment ranges into one.
func MergePartials(ps []*Partial) (*Partial, error) {
	if len(ps) == 0 {
		return nil, errors.New("no partials to merge")
	}
	out := *ps[0]
	out.Digests = map[string]digest.Digests{}
	for r, d := range ps[0].Digests {
		out.Digests[r] = append(digest.Digests(nil), d...)
	}
	covered := make([]bool, out.Segments.Total)
	mark := func(p *Partial) error {
		for s := p.Segments.First; s <= p.Segments.Last; s++ {
			if covered[s] {
				return fmt.Errorf("segment %d is in two partials: give each range once", s)
			}
			covered[s] = true
		}
		return nil
	}
	if err := mark(ps[0]); err != nil {
		return nil, err
	}
	for _, p := range ps[1:] {
		if err := out.Merge(p); err != nil {
			return nil, err
		}
		if err := mark(p); err != nil {
			return nil, err
		}
	}
	for s, ok := range covered {
		if !ok {
			return nil, fmt.Errorf("segment %d of %d is in no partial: run that range too", s, out.Segments.Total)
		}
	}
	return &out, nil
}
