package validate

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"

	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/validate/verdict"
)

// Function is what the data-validator function does with each invocation
// (a Request, or its schedule's event): compare the regions whole, scan
// one range of segments into a Partial (a fanned-out run), or merge
// partials and compare. A comparison's figures are EMF lines on Out.
type Function struct {
	Primary, DR *region.Clients
	Names       region.Names
	Out         io.Writer
	Log         *slog.Logger
}

// Handle runs one invocation: it returns a *Partial or a *Report.
func (f Function) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	req, err := ParseRequest(payload)
	if err != nil {
		return nil, err
	}
	v := &Validator{
		Primary: SideFor(f.Primary, f.Names, !req.NoObjects), DR: SideFor(f.DR, f.Names, !req.NoObjects),
		Segments: req.Segments, Buckets: req.Buckets, Settle: req.SettleWindow(),
	}
	if seg, ok := req.Range(); ok {
		v.Primary.Objects, v.DR.Objects = nil, nil
		return v.Digest(ctx, seg)
	}
	var rep *verdict.Report
	if len(req.Partials) > 0 {
		p, err := MergePartials(req.Partials)
		if err != nil {
			return nil, err
		}
		if rep, err = v.Compare(ctx, p); err != nil {
			return nil, err
		}
	} else if rep, err = v.Run(ctx); err != nil {
		return nil, err
	}
	if err := Emit(f.Out, rep); err != nil {
		f.Log.Error("emit metrics", "err", err)
	}
	if !rep.Clean() {
		f.Log.Warn("regions diverge", "missing_in_dr", rep.MissingInDR.Count, "missing_in_primary", rep.MissingInPrimary.Count, "divergent", rep.Divergent.Count)
	}
	return rep, nil
}
