package validate

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pilotlight/pilotlight/internal/metrics"
)

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

// Emit writes the findings as EMF metrics (the time taken is in the
// report, not a metric: every distinct metric costs on AWS).
func (r *Report) Emit(w io.Writer) error {
	dims := map[string]string{"Primary": r.Primary, "DR": r.DR, "Table": r.Table}
	pts := []metrics.Datapoint{
		{Name: metrics.ValidatorMissingInDR, Unit: "Count", Value: float64(r.MissingInDR.Count)},
		{Name: metrics.ValidatorMissingInPrimary, Unit: "Count", Value: float64(r.MissingInPrimary.Count)},
		{Name: metrics.ValidatorDivergent, Unit: "Count", Value: float64(r.Divergent.Count)},
	}
	if o := r.Objects; o != nil {
		pts = append(pts, metrics.Datapoint{Name: metrics.ValidatorObjectsDiffering, Unit: "Count", Value: float64(o.MissingInDR.Count + o.MissingInPrimary.Count + o.Divergent.Count)})
	}
	return metrics.Write(w, metrics.Namespace, r.Started.Add(time.Duration(r.Seconds*float64(time.Second))), dims, pts...)
}
