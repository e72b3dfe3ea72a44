package drill

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"time"
)

// WriteHTML writes the report as one self-contained page: the RTO/RPO table
// and a timeline of acknowledged writes per second per region, errors, and
// the fault, failover and failback markers. No scripts, no external files.
func WriteHTML(w io.Writer, r *Report) error {
	return page.Execute(w, newView(r))
}

type bar struct {
	X, Y, W, H float64
	Color      string
	Title      string
}

type marker struct {
	X, LabelY float64
	Label     string
	Color     string
	// Anchor is "end" for a marker near the right edge: its label goes to
	// the left of the line, inside the plot.
	Anchor string
	DX     float64
}

type row struct {
	Name, Value, Note string
	Sub               bool // a component of the row above
}

type view struct {
	R         *Report
	Verdict   string
	Rows      []row
	Bars      []bar
	Markers   []marker
	Regions   []string
	Colors    map[string]string
	Width     float64
	Height    float64 // of the plot
	SVGHeight float64 // plot and marker labels above it
	MaxY      int
}

const (
	plotW, plotH = 900.0, 220.0
)

func newView(r *Report) view {
	v := view{R: r, Verdict: "PASS", Width: plotW, Height: plotH, SVGHeight: plotH + 28, Colors: map[string]string{r.Primary: "#2b6cb0", r.DR: "#2f855a"}}
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
	v.Rows = append(v.Rows, row{"fenced acks", fmt.Sprint(r.FencedAcks), "writes acknowledged by a fenced region (must be 0)", false},
		row{"writes", fmt.Sprintf("%d acked of %d", r.Writes.Acked, r.Writes.Attempted), fmt.Sprintf("%d refused (503), %d failed", r.Writes.Refused, r.Writes.Failed), false})
	if val := r.Validation; val != nil {
		verdict, detail := "clean", fmt.Sprintf("data validator: the same %d items in both regions", val.Items[r.Primary])
		if !val.Clean() {
			verdict = "DIVERGENT"
			detail = fmt.Sprintf("data validator: %d missing in %s, %d missing in %s, %d divergent", val.MissingInDR.Count, r.DR, val.MissingInPrimary.Count, r.Primary, val.Divergent.Count)
		}
		v.Rows = append(v.Rows, row{"validation", verdict, detail, false})
	}

	tl := r.Writes.Timeline
	if len(tl) == 0 {
		return v
	}
	for _, s := range tl {
		total := s.Errors
		for _, n := range s.Acked {
			total += n
		}
		v.MaxY = max(v.MaxY, total)
	}
	if v.MaxY == 0 {
		v.MaxY = 1
	}
	bw := plotW / float64(len(tl))
	scale := plotH / float64(v.MaxY)
	for _, reg := range []string{r.Primary, r.DR} {
		v.Regions = append(v.Regions, reg)
	}
	for i, s := range tl {
		y := plotH
		regions := make([]string, 0, len(s.Acked))
		for k := range s.Acked {
			regions = append(regions, k)
		}
		sort.Strings(regions)
		for _, reg := range regions {
			h := float64(s.Acked[reg]) * scale
			y -= h
			c := v.Colors[reg]
			if c == "" {
				c = "#718096"
			}
			v.Bars = append(v.Bars, bar{X: float64(i) * bw, Y: y, W: bw * 0.9, H: h, Color: c, Title: fmt.Sprintf("t=%ds: %d acknowledged by %s", s.T, s.Acked[reg], reg)})
		}
		if s.Errors > 0 {
			h := float64(s.Errors) * scale
			y -= h
			v.Bars = append(v.Bars, bar{X: float64(i) * bw, Y: y, W: bw * 0.9, H: h, Color: "#e53e3e", Title: fmt.Sprintf("t=%ds: %d refused or failed", s.T, s.Errors)})
		}
	}
	// Second i of the timeline starts at WorkloadStarted + i s.
	at := func(t time.Time) float64 { return t.Sub(r.Writes.Started).Seconds() * bw }
	add := func(t time.Time, label, color string) {
		if !t.IsZero() {
			if x := at(t); x >= 0 && x <= plotW {
				// Alternate label heights so neighbouring markers stay legible.
				m := marker{X: x, LabelY: float64(-16 + 12*(len(v.Markers)%2)), Label: label, Color: color, Anchor: "start", DX: 3}
				if x > plotW-7*float64(len(label))-6 {
					m.Anchor, m.DX = "end", -3
				}
				v.Markers = append(v.Markers, m)
			}
		}
	}
	if f := r.Failover; f != nil {
		add(f.FaultAt, "fault", "#e53e3e")
		add(f.FirstAckDR, "first write in "+r.DR, "#2f855a")
	}
	add(r.HealedAt, "heal", "#718096")
	if fb := r.Failback; fb != nil {
		add(fb.StartedAt, "failback", "#805ad5")
		add(fb.FirstAckPrimary, "back in "+r.Primary, "#2b6cb0")
	}
	return v
}

var page = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pilotlight drill: {{.R.Scenario}} {{.Verdict}}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:960px;color:#1a202c}
h1{font-size:1.4em} .PASS{color:#2f855a} .FAIL{color:#c53030}
table{border-collapse:collapse;margin:1em 0} td{padding:.2em .8em;border-bottom:1px solid #e2e8f0}
td.sub{padding-left:2em;color:#4a5568} td.v{font-variant-numeric:tabular-nums;text-align:right;white-space:pre} td.n{color:#4a5568}
.legend span{display:inline-block;margin-right:1.2em} .sw{display:inline-block;width:.8em;height:.8em;margin-right:.3em;vertical-align:middle}
ul.fail{color:#c53030}
</style></head><body>
<h1>{{.R.Scenario}} drill ({{.R.Primary}} → {{.R.DR}}): <span class="{{.Verdict}}">{{.Verdict}}</span></h1>
<p>{{.R.Started.Format "2006-01-02 15:04:05 MST"}} · target {{.R.Target}}</p>
{{if .R.Failures}}<ul class="fail">{{range .R.Failures}}<li>{{.}}</li>{{end}}</ul>{{end}}
<table>{{range .Rows}}<tr><td{{if .Sub}} class="sub"{{end}}>{{.Name}}</td><td class="v">{{.Value}}</td><td class="n">{{.Note}}</td></tr>{{end}}</table>
<h2>Writes per second</h2>
<div class="legend">{{range .Regions}}<span><i class="sw" style="background:{{index $.Colors .}}"></i>acknowledged by {{.}}</span>{{end}}<span><i class="sw" style="background:#e53e3e"></i>refused or failed</span></div>
<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.SVGHeight}}" viewBox="0 -28 {{.Width}} {{.SVGHeight}}" role="img" aria-label="writes per second">
<text x="2" y="10" font-size="11" fill="#ffffff">{{.MaxY}}/s</text>
{{range .Bars}}<rect x="{{printf "%.1f" .X}}" y="{{printf "%.1f" .Y}}" width="{{printf "%.1f" .W}}" height="{{printf "%.1f" .H}}" fill="{{.Color}}"><title>{{.Title}}</title></rect>
{{end}}{{range .Markers}}<line x1="{{printf "%.1f" .X}}" x2="{{printf "%.1f" .X}}" y1="-28" y2="{{$.Height}}" stroke="{{.Color}}" stroke-dasharray="4 3"/><text x="{{printf "%.1f" .X}}" y="{{.LabelY}}" font-size="11" fill="{{.Color}}" dx="{{.DX}}" text-anchor="{{.Anchor}}">{{.Label}}</text>
{{end}}</svg>
<p>Full record: report.json (journal, lab events, every second of the workload).</p>
</body></html>
`))
