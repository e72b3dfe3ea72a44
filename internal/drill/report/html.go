package report

import (
	"fmt"
	"html/template"
	"io"
)

// WriteHTML writes the report as one self-contained page: the RTO/RPO table
// and a timeline of acknowledged writes per second per region, errors, and
// the fault, failover and failback markers. No scripts, no external files.
func WriteHTML(w io.Writer, r *Report) error {
	v, err := newView(r)
	if err != nil {
		return err
	}
	return page.Execute(w, v)
}

type row struct {
	Name, Value, Note string
	Sub               bool // a component of the row above
}

type view struct {
	R       *Report
	Verdict string
	Rows    []row
	Plot    template.HTML // the SVG chart of WritePlot
}

func newView(r *Report) (view, error) {
	v := view{R: r, Verdict: "PASS"}
	if !r.Pass {
		v.Verdict = "FAIL"
	}
	if f := r.Failover; f != nil && f.RTOSeconds > 0 {
		v.Rows = append(v.Rows, row{"RTO", fmt.Sprintf("%.2f s", f.RTOSeconds), "fault → first write acknowledged in " + r.DR, false})
		for _, k := range BreakdownOrder {
			if x, ok := f.Breakdown[k]; ok {
				v.Rows = append(v.Rows, row{Name: k, Value: fmt.Sprintf("%.2f s", x), Sub: true})
			}
		}
		if f.DetectionFloor > 0 {
			v.Rows = append(v.Rows, row{"detection floor", fmt.Sprintf("%.2f s", f.DetectionFloor), f.FloorExplanation, false})
		}
	}
	if r.RPO != nil {
		v.Rows = append(v.Rows, row{"RPO", fmt.Sprintf("%d writes, %.3f s", r.RPO.Missing, r.RPO.SpanSeconds), "acknowledged writes not in " + r.DR + " at takeover", false})
	}
	if fb := r.Failback; fb != nil {
		v.Rows = append(v.Rows, row{"failback", fmt.Sprintf("%d lost", fb.Lost), fmt.Sprintf("writes refused for %.2f s while switching", fb.UnavailableSeconds), false})
	}
	must := r.splitBrainPromise()
	v.Rows = append(v.Rows, row{"fenced acks", fmt.Sprint(r.FencedAcks), "writes acknowledged by a fenced region (" + must + ")", false},
		row{"split brain", fmt.Sprint(r.SplitBrain), "commits two regions made at once, from the data (" + must + ")", false},
		row{"writes", fmt.Sprintf("%d acked of %d", r.Writes.Acked, r.Writes.Attempted), fmt.Sprintf("%d refused (503), %d failed", r.Writes.Refused, r.Writes.Failed), false})
	if val := r.Validation; val != nil {
		verdict, detail := "clean", fmt.Sprintf("data validator: the same %d items in both regions", val.Items[r.Primary])
		if !val.Clean() {
			verdict = "DIVERGENT"
			detail = fmt.Sprintf("data validator: %d missing in %s, %d missing in %s, %d divergent", val.MissingInDR.Count, r.DR, val.MissingInPrimary.Count, r.Primary, val.Divergent.Count)
		}
		v.Rows = append(v.Rows, row{"validation", verdict, detail, false})
	}

	if len(r.Writes.Timeline) > 0 {
		svg, err := PlotSVG(r)
		if err != nil {
			return v, err
		}
		// The chart is our own SVG, drawn from numbers and the region
		// names the report was started with.
		v.Plot = template.HTML(svg)
	}
	return v, nil
}

var page = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pilotlight drill: {{.R.Scenario}} {{.Verdict}}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:960px;color:#1a202c}
h1{font-size:1.4em} .PASS{color:#2f855a} .FAIL{color:#c53030}
table{border-collapse:collapse;margin:1em 0} td{padding:.2em .8em;border-bottom:1px solid #e2e8f0}
td.sub{padding-left:2em;color:#4a5568} td.v{font-variant-numeric:tabular-nums;text-align:right;white-space:pre} td.n{color:#4a5568}
ul.fail{color:#c53030}
</style></head><body>
<h1>{{.R.Scenario}} drill ({{.R.Primary}} → {{.R.DR}}): <span class="{{.Verdict}}">{{.Verdict}}</span></h1>
<p>{{.R.Started.Format "2006-01-02 15:04:05 MST"}} · target {{.R.Target}}</p>
{{with .R.App}}<p>application <b>{{.Name}}</b> (table {{.Table}}), fencing tier <b>{{.Tier}}</b>: {{.Promise}}</p>{{end}}
{{if .R.Failures}}<ul class="fail">{{range .R.Failures}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .R.NotPromised}}<p>Measured, and not promised by this tier:</p><ul>{{range .R.NotPromised}}<li>{{.}}</li>{{end}}</ul>{{end}}
<table>{{range .Rows}}<tr><td{{if .Sub}} class="sub"{{end}}>{{.Name}}</td><td class="v">{{.Value}}</td><td class="n">{{.Note}}</td></tr>{{end}}</table>
<h2>Writes per second</h2>
{{.Plot}}
<p>Full record: report.json (journal, lab events, every second of the workload).</p>
</body></html>
`))
