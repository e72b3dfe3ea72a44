package drill

import (
	"fmt"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/drill/report"
	"github.com/pilotlight/pilotlight/internal/drill/workload"
)

// The measurements a drill takes of its workload for the report.

// objectives holds the measured RTO and RPO to the configured objectives.
func (d *Drill) objectives() {
	if d.Options.RTOObjective <= 0 && d.Options.RPOObjective <= 0 {
		return
	}
	o := &report.Objectives{RTOSeconds: d.Options.RTOObjective.Seconds(), RPOSeconds: d.Options.RPOObjective.Seconds()}
	d.Report.Objectives = o
	if f := d.Report.Failover; f != nil && f.RTOSeconds > 0 && d.Options.RTOObjective > 0 {
		met := f.RTOSeconds <= o.RTOSeconds
		o.RTOMet = &met
		if !met {
			d.Fail(fmt.Sprintf("RTO %.2fs missed the objective %s (PILOTLIGHT_RTO_OBJECTIVE)", f.RTOSeconds, d.Options.RTOObjective))
		}
	}
	if r := d.Report.RPO; r != nil && d.Options.RPOObjective > 0 {
		met := r.SpanSeconds <= o.RPOSeconds
		o.RPOMet = &met
		if !met {
			d.Fail(fmt.Sprintf("RPO %.3fs of writes missed the objective %s (PILOTLIGHT_RPO_OBJECTIVE)", r.SpanSeconds, d.Options.RPOObjective))
		}
	}
}

func rpo(primaryAcked []workload.Write, missing []string) *report.RPO {
	r := &report.RPO{Missing: len(missing)}
	if len(missing) == 0 {
		return r
	}
	miss := map[string]bool{}
	for _, id := range missing {
		miss[id] = true
	}
	var first, last time.Time
	for _, w := range primaryAcked {
		if last.IsZero() || w.Done.After(last) {
			last = w.Done
		}
		if miss[w.ID] && (first.IsZero() || w.Done.Before(first)) {
			first = w.Done
		}
	}
	r.SpanSeconds = last.Sub(first).Seconds()
	r.Samples = missing[:min(5, len(missing))]
	return r
}

// Summarize counts a drill's writes from start: attempted, acknowledged
// (per region), refused and failed, second by second, and why the ones
// not acknowledged failed.
func Summarize(writes []workload.Write, start time.Time) report.WriteSummary {
	s := report.WriteSummary{Started: start.UTC(), ByRegion: map[string]int{}}
	var tl []report.Second
	for _, w := range writes {
		s.Attempted++
		sec := int(w.Sent.Sub(start) / time.Second)
		for len(tl) <= sec {
			tl = append(tl, report.Second{T: len(tl), Acked: map[string]int{}})
		}
		switch {
		case w.Acked():
			s.Acked++
			s.ByRegion[w.Region]++
			tl[sec].Acked[w.Region]++
		case w.Status == 503:
			s.Refused++
			tl[sec].Errors++
		default:
			s.Failed++
			tl[sec].Errors++
		}
		if !w.Acked() {
			if s.Reasons == nil {
				s.Reasons = map[string]int{}
			}
			s.Reasons[reason(w)]++
		}
	}
	s.Timeline = tl
	return s
}

// reason is a short, stable description of why a write failed: the status
// and the error with ids and numbers dropped, so alike failures group.
func reason(w workload.Write) string {
	msg := w.Error
	var b strings.Builder
	for _, r := range msg {
		if r >= '0' && r <= '9' {
			continue
		}
		b.WriteRune(r)
		if b.Len() >= 90 {
			break
		}
	}
	return fmt.Sprintf("%d %s", w.Status, b.String())
}
