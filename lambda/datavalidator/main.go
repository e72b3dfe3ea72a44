// Command datavalidator compares the protected table (and bucket) of the two
// regions, emits the findings as EMF metrics and returns the report; or,
// fanned out, scans one segment range and returns its partial digests.
// Wiring only.
package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/validate"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("function", "datavalidator")
	env, err := config.LoadFunctionEnv(os.Getenv)
	if err != nil {
		log.Error("bad environment", "err", err)
		os.Exit(1)
	}
	clients := func(r string) *region.Clients {
		c, err := region.New(env.Spec(r, 0))
		if err != nil {
			log.Error("clients", "err", err)
			os.Exit(1)
		}
		return c
	}
	primary, dr := env.Primary, env.Peer
	if primary == env.Peer {
		dr = env.Region
	}
	pc, dc := clients(primary), clients(dr)
	handler := func(ctx context.Context, payload json.RawMessage) (any, error) {
		req, err := validate.ParseRequest(payload)
		if err != nil {
			return nil, err
		}
		v := &validate.Validator{
			Primary: validate.SideFor(pc, env.Names(), !req.NoObjects), DR: validate.SideFor(dc, env.Names(), !req.NoObjects),
			Segments: req.Segments, Buckets: req.Buckets, Settle: req.SettleWindow(),
		}
		if seg, ok := req.Range(); ok {
			v.Primary.Objects, v.DR.Objects = nil, nil
			return v.Digest(ctx, seg)
		}
		var rep *validate.Report
		if len(req.Partials) > 0 {
			p, err := validate.MergePartials(req.Partials)
			if err != nil {
				return nil, err
			}
			rep, err = v.Compare(ctx, p)
			if err != nil {
				return nil, err
			}
		} else if rep, err = v.Run(ctx); err != nil {
			return nil, err
		}
		if err := rep.Emit(os.Stdout); err != nil {
			log.Error("emit metrics", "err", err)
		}
		if !rep.Clean() {
			log.Warn("regions diverge", "missing_in_dr", rep.MissingInDR.Count, "missing_in_primary", rep.MissingInPrimary.Count, "divergent", rep.Divergent.Count)
		}
		return rep, nil
	}
	lambda.StartWithOptions(handler, lambda.WithEnableSIGTERM(func() { log.Info("shutting down") }))
}
