package cost

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/cloudformation"
	"github.com/pilotlight/pilotlight/internal/deploy"
	"github.com/pilotlight/pilotlight/internal/deploy/cfn"
)

// rates is what the templates schedule in one month, for the cost
// estimate: read from the templates, not restated here.
type rates struct {
	// Runs: function name suffix (healthcheck, failovercontroller, …) and
	// region role ("primary", "dr") -> scheduled invocations a month.
	Runs map[string]float64
	// Period: the schedule's interval, per the same key.
	Period map[string]time.Duration
	// Env: the same key -> the function's settings; Memory in MB.
	Env    map[string]map[string]string
	Memory map[string]int
}

// templateRates resolves both regional templates for a detection profile
// and reads every schedule (EventBridge rules' rate expressions and their
// targets) and every function's settings.
func templateRates(p deploy.Plan, profile string) (rates, error) {
	r := rates{Runs: map[string]float64{}, Period: map[string]time.Duration{}, Env: map[string]map[string]string{}, Memory: map[string]int{}}
	p.Profile = profile
	if p.Names.App == "" {
		p.Names.App = "pilotlight"
	}
	if p.Names.Account == "" {
		p.Names.Account = "000000000000"
	}
	for _, st := range []struct {
		role, name string
		body       []byte
		params     map[string]string
	}{
		{"primary", "primary-region.yaml", cloudformation.Primary, p.PrimaryParameters(nil, "https://dr.invalid/")},
		{"dr", "dr-region.yaml", cloudformation.DR, p.DRParameters(nil, "https://primary.invalid/")},
	} {
		tpl, err := cfn.Parse(st.name, st.body)
		if err != nil {
			return r, err
		}
		res := &cfn.Resolver{T: tpl, Params: st.params, Region: "us-east-1", Account: p.Names.Account,
			Attr: func(id, attr string) (string, bool) {
				if attr == "FunctionUrl" {
					return "https://" + strings.ToLower(id) + ".invalid/", true // a URL, for Fn::Split
				}
				return "resource:" + id + "." + attr, true
			}}
		fns, err := res.Functions()
		if err != nil {
			return r, err
		}
		byID := map[string]string{}
		for _, f := range fns {
			key := st.role + "/" + p.Names.Short(f.Name)
			byID[f.LogicalID] = key
			r.Env[key], r.Memory[key] = f.Env, f.MemoryMB
		}
		for id, rule := range tpl.Resources {
			if rule["Type"] != "AWS::Events::Rule" {
				continue
			}
			props, _ := rule["Properties"].(map[string]any)
			if props["ScheduleExpression"] == nil {
				continue
			}
			expr, err := res.String(props["ScheduleExpression"])
			if err != nil {
				return r, fmt.Errorf("%s: %s: %w", st.name, id, err)
			}
			period, err := RatePeriod(expr)
			if err != nil {
				return r, fmt.Errorf("%s: %s: %w", st.name, id, err)
			}
			targets, _ := props["Targets"].([]any)
			for _, t := range targets {
				tm, _ := t.(map[string]any)
				arn, err := res.String(tm["Arn"])
				if err != nil {
					return r, fmt.Errorf("%s: %s: target: %w", st.name, id, err)
				}
				fnID := strings.TrimSuffix(strings.TrimPrefix(arn, "resource:"), ".Arn")
				if key, ok := byID[fnID]; ok {
					r.Runs[key] += float64(30*24*time.Hour) / float64(period)
					r.Period[key] = period
				}
			}
		}
	}
	return r, nil
}

// RatePeriod reads an EventBridge rate expression; a cron expression is
// taken as once a day (the estimate says so).
func RatePeriod(expr string) (time.Duration, error) {
	if strings.HasPrefix(expr, "cron(") {
		return 24 * time.Hour, nil
	}
	inner, ok := strings.CutPrefix(expr, "rate(")
	if !ok || !strings.HasSuffix(inner, ")") {
		return 0, fmt.Errorf("schedule %q: not rate(…) or cron(…)", expr)
	}
	n, unit, _ := strings.Cut(strings.TrimSuffix(inner, ")"), " ")
	v, err := strconv.Atoi(n)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("schedule %q: %q is not a positive count", expr, n)
	}
	per := map[string]time.Duration{"minute": time.Minute, "minutes": time.Minute, "hour": time.Hour, "hours": time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour}[unit]
	if per == 0 {
		return 0, fmt.Errorf("schedule %q: unknown unit %q", expr, unit)
	}
	return time.Duration(v) * per, nil
}

// duration reads a template duration setting, or def.
func (r rates) duration(key, name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(r.Env[key][name]); err == nil && d > 0 {
		return d
	}
	return def
}
