// Package verdict owns a validation's result: what differs between the
// two regions' tables and buckets, how many, with some keys, and how it
// prints. Package validate produces it; the drill's report, the dashboard
// and the CLI read it without linking the AWS SDK.
package verdict

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Finding is one kind of difference: how many, and some of the keys.
type Finding struct {
	Count   int64    `json:"count"`
	Samples []string `json:"samples,omitempty"`
}

// Add counts one more difference, keeping its key as a sample while the
// finding has fewer than max.
func (f *Finding) Add(key string, max int) {
	f.Count++
	if len(f.Samples) < max {
		f.Samples = append(f.Samples, key)
	}
}

// Report is the result of a validation.
type Report struct {
	Table            string            `json:"table"`
	Primary          string            `json:"primary"`
	DR               string            `json:"dr"`
	Started          time.Time         `json:"started"`
	Seconds          float64           `json:"seconds"`
	Items            map[string]int64  `json:"items"`
	Digest           map[string]string `json:"digest"`
	Buckets          int               `json:"buckets"`
	DifferingBuckets int               `json:"differing_buckets"`
	MissingInDR      Finding           `json:"missing_in_dr"`
	MissingInPrimary Finding           `json:"missing_in_primary"`
	Divergent        Finding           `json:"divergent"`
	// Settled counts differences seen by the scan that had converged when
	// read again after the settle window: replication in flight.
	Settled int64 `json:"settled"`
	// NotRechecked counts differences beyond MaxRecheck, reported as scanned.
	NotRechecked int64         `json:"not_rechecked,omitempty"`
	Objects      *ObjectReport `json:"objects,omitempty"`
}

// Clean reports whether the regions hold the same data.
func (r *Report) Clean() bool {
	ok := r.MissingInDR.Count == 0 && r.MissingInPrimary.Count == 0 && r.Divergent.Count == 0
	if r.Objects != nil {
		ok = ok && r.Objects.Clean()
	}
	return ok
}

// ObjectReport compares the buckets key by key: the current state (ETag,
// or deleted) and the ETags of every version. Version IDs are not compared:
// the lab's replicator, unlike S3 replication, gives replicas IDs of their
// own; the history of ETags says the same thing on both targets.
type ObjectReport struct {
	Keys             map[string]int `json:"keys"`
	MissingInDR      Finding        `json:"missing_in_dr"`
	MissingInPrimary Finding        `json:"missing_in_primary"`
	Divergent        Finding        `json:"divergent"`
	// Settling counts keys that differ but changed within the settle window.
	Settling int64 `json:"settling"`
}

// Clean reports whether the buckets agree.
func (r *ObjectReport) Clean() bool {
	return r.MissingInDR.Count == 0 && r.MissingInPrimary.Count == 0 && r.Divergent.Count == 0
}

// Print writes the report for people.
func (r *Report) Print(w io.Writer) {
	verdict := "CLEAN: both regions hold the same data"
	if !r.Clean() {
		verdict = "DIVERGENT: the regions differ beyond the settle window"
	}
	fmt.Fprintf(w, "%s\n\n", verdict)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "table %s\t%s\t%s\n", r.Table, r.Primary+" (primary)", r.DR+" (dr)")
	fmt.Fprintf(tw, "items\t%d\t%d\n", r.Items[r.Primary], r.Items[r.DR])
	fmt.Fprintf(tw, "digest\t%s\t%s\n", short(r.Digest[r.Primary]), short(r.Digest[r.DR]))
	if r.Objects != nil {
		fmt.Fprintf(tw, "objects (live keys)\t%d\t%d\n", r.Objects.Keys[r.Primary], r.Objects.Keys[r.DR])
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d of %d digest buckets differ", r.DifferingBuckets, r.Buckets)
	if r.Settled > 0 {
		fmt.Fprintf(w, "; %d differences settled within the window (replication in flight)", r.Settled)
	}
	fmt.Fprintln(w)
	finding(w, "items missing in "+r.DR, r.MissingInDR)
	finding(w, "items missing in "+r.Primary, r.MissingInPrimary)
	finding(w, "items divergent", r.Divergent)
	if r.NotRechecked > 0 {
		fmt.Fprintf(w, "  (%d differences beyond the recheck limit are reported as scanned)\n", r.NotRechecked)
	}
	if o := r.Objects; o != nil {
		finding(w, "objects missing in "+r.DR, o.MissingInDR)
		finding(w, "objects missing in "+r.Primary, o.MissingInPrimary)
		finding(w, "objects divergent", o.Divergent)
		if o.Settling > 0 {
			fmt.Fprintf(w, "  %d objects changed within the settle window and were not judged\n", o.Settling)
		}
	}
	fmt.Fprintf(w, "took %s\n", time.Duration(r.Seconds*float64(time.Second)).Round(time.Millisecond))
}

func finding(w io.Writer, what string, f Finding) {
	if f.Count == 0 {
		return
	}
	fmt.Fprintf(w, "  %d %s", f.Count, what)
	if len(f.Samples) > 0 {
		fmt.Fprintf(w, ", e.g. %s", strings.Join(f.Samples, ", "))
	}
	fmt.Fprintln(w)
}

func short(d string) string {
	if len(d) > 24 {
		return d[:24] + "…"
	}
	return d
}
