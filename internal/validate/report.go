package validate

import (
	"io"
	"time"

	"github.com/pilotlight/pilotlight/internal/metrics"
	"github.com/pilotlight/pilotlight/internal/validate/verdict"
)

// Emit writes the findings as EMF metrics (the time taken is in the
// report, not a metric: every distinct metric costs on AWS).
func Emit(w io.Writer, r *verdict.Report) error {
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
