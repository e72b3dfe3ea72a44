package report

import (
	"bytes"
	"errors"
	"image/color"
	"io"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Plot colours: the primary blue, the DR region green, refusals red.
var (
	primaryColor = color.RGBA{0x2b, 0x6c, 0xb0, 0xff}
	drColor      = color.RGBA{0x2f, 0x85, 0x5a, 0xff}
	otherColor   = color.RGBA{0x71, 0x80, 0x96, 0xff}
	errorColor   = color.RGBA{0xe5, 0x3e, 0x3e, 0xff}
	failbackCol  = color.RGBA{0x80, 0x5a, 0xd5, 0xff}
)

// WritePlot draws a drill's workload as an SVG chart (gonum/plot): writes
// per second, stacked by the region that acknowledged them, refusals and
// failures on top, and a dashed line at the fault, the first write in the
// DR region, the heal, the failback and the first write back in the
// primary. Second t of the timeline is the bar centred on t. The SVG needs
// nothing from the network.
func WritePlot(w io.Writer, r *Report) error {
	p := plot.New()
	p.X.Label.Text = "seconds since the workload started"
	p.Y.Label.Text = "writes per second"
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	const width = 9 * vg.Inch
	n, maxY, err := plotBars(p, r, width)
	if err != nil {
		return err
	}
	top := maxY * 1.5 // room for the legend and the marker labels
	p.Y.Max = top
	p.X.Min, p.X.Max = -0.5, float64(n)-0.5
	if err := plotMarks(p, r, n, top); err != nil {
		return err
	}
	wt, err := p.WriterTo(width, 3*vg.Inch, "svg")
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}

// plotBars adds the stacked bars — acknowledged writes by region, then
// refusals and failures — and returns the seconds drawn and the tallest
// bar.
func plotBars(p *plot.Plot, r *Report, width vg.Length) (int, float64, error) {
	tl := r.Writes.Timeline
	n := 0
	for _, s := range tl {
		n = max(n, s.T+1)
	}
	n = max(n, 1)
	regions := []string{r.Primary, r.DR}
	for _, s := range tl {
		for reg := range s.Acked {
			if !slices.Contains(regions, reg) {
				regions = append(regions, reg)
			}
		}
	}
	series := map[string]plotter.Values{}
	for _, reg := range append(regions, "") {
		series[reg] = make(plotter.Values, n)
	}
	maxY := 1.0
	for _, s := range tl {
		total := 0
		for reg, k := range s.Acked {
			series[reg][s.T] = float64(k)
			total += k
		}
		series[""][s.T] = float64(s.Errors)
		maxY = max(maxY, float64(total+s.Errors))
	}
	barW := max(vg.Length(1), (width-1.2*vg.Inch)/vg.Length(n)*0.85)
	var below *plotter.BarChart
	for _, reg := range append(regions, "") {
		bc, err := plotter.NewBarChart(series[reg], barW)
		if err != nil {
			return 0, 0, err
		}
		bc.LineStyle.Width = 0
		switch reg {
		case r.Primary:
			bc.Color = primaryColor
		case r.DR:
			bc.Color = drColor
		case "":
			bc.Color = errorColor
		default:
			bc.Color = otherColor
		}
		if below != nil {
			bc.StackOn(below)
		}
		below = bc
		p.Add(bc)
		label := "acknowledged by " + reg
		if reg == "" {
			label = "refused or failed"
		}
		p.Legend.Add(label, bc)
	}
	return n, maxY, nil
}

// plotMarks adds a labelled dashed line at each moment of the drill: the
// fault, the first write in the DR region, the heal, the failback and the
// first write back in the primary.
func plotMarks(p *plot.Plot, r *Report, n int, top float64) error {
	var marks []plotter.XY
	var labels []string
	add := func(t time.Time, label string, c color.Color) error {
		if t.IsZero() {
			return nil
		}
		x := t.Sub(r.Writes.Started).Seconds() - 0.5
		if x < p.X.Min || x > p.X.Max {
			return nil
		}
		ln, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: top}})
		if err != nil {
			return err
		}
		ln.Color = c
		ln.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(ln)
		// Alternate label heights so neighbouring markers stay legible.
		// (below the legend, above the tallest bar at top/1.5).
		y := top * (0.82 - 0.07*float64(len(labels)%2))
		marks = append(marks, plotter.XY{X: x, Y: y})
		labels = append(labels, label)
		return nil
	}
	var errs []error
	if f := r.Failover; f != nil {
		errs = append(errs, add(f.FaultAt, "fault", errorColor), add(f.FirstAckDR, "first write in "+r.DR, drColor))
	}
	errs = append(errs, add(r.HealedAt, "heal", otherColor))
	if fb := r.Failback; fb != nil {
		errs = append(errs, add(fb.StartedAt, "failback", failbackCol), add(fb.FirstAckPrimary, "back in "+r.Primary, primaryColor))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if len(labels) == 0 {
		return nil
	}
	lb, err := plotter.NewLabels(plotter.XYLabels{XYs: marks, Labels: labels})
	if err != nil {
		return err
	}
	lb.Offset = vg.Point{X: vg.Points(3)}
	for i := range lb.TextStyle {
		lb.TextStyle[i].Font.Size = vg.Points(9)
		lb.TextStyle[i].XAlign = draw.XLeft
		if marks[i].X > p.X.Max-float64(n)/6 {
			lb.TextStyle[i].XAlign = draw.XRight
		}
	}
	p.Add(lb)
	return nil
}

// PlotSVG is WritePlot as an <svg> element, without the XML prolog, for
// pages that inline it.
func PlotSVG(r *Report) (string, error) {
	var b bytes.Buffer
	if err := WritePlot(&b, r); err != nil {
		return "", err
	}
	s := b.String()
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	return s, nil
}

func init() {
	// Sans-serif, like the pages the charts sit in.
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	plotter.DefaultFont = plot.DefaultFont
}
