// Package parity holds the lab to the templates: the environment the lab
// gives each function against the one cloudformation/*.yaml gives the same
// function on AWS, resolved with the parameters deploy passes. It sits
// apart from both because it needs both: the lab calls it through
// lab.Options.CheckEnv.
package parity

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/cloudformation"
	"github.com/pilotlight/pilotlight/internal/deploy"
	"github.com/pilotlight/pilotlight/internal/deploy/cfn"
	"github.com/pilotlight/pilotlight/internal/deploy/cost"
	"github.com/pilotlight/pilotlight/internal/iampolicy"
	"github.com/pilotlight/pilotlight/internal/lab/access"
	"github.com/pilotlight/pilotlight/internal/lab/alarm"
	"github.com/pilotlight/pilotlight/internal/lab/fnenv"
	"github.com/pilotlight/pilotlight/internal/lab/provision"
)

// The lab runs the real function binaries with an environment it builds
// itself. templateDrift holds that environment against the one
// cloudformation/*.yaml gives the same function on AWS — the templates
// resolved with the parameters deploy would pass (fast detection profile),
// every duration divided by TimeScale — so the lab cannot silently rehearse
// a different deployment than the one deploy creates (an AWS-only variable
// the lab sets for itself hides a template that lacks it). The only
// differences allowed are those in labOverrides, each with its reason;
// docs/architecture.md prints the same table.

// TimeScale divides the templates' durations for the lab: a 20 s lease term
// runs as 2 s, a 10 s probe interval as 1 s.
const TimeScale = 10

// LabOverride is one environment variable in which the lab differs from
// the templates, and why.
type LabOverride struct {
	Key  string
	Kind string // "lab only": the lab sets it, the templates do not; "AWS only": the templates set it, the lab does not; "value": both set it, to different values
	Why  string
}

// LabOverrides is the complete list of differences between a lab
// function's environment and the templates'.
var LabOverrides = []LabOverride{
	{"AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN", "lab only", "a lab key per function standing for a session of its template role, which the lab's fronts hold to the role's policies (Lambda gives each function its role's session)"},
	{"AWS_REGION, AWS_DEFAULT_REGION, AWS_LAMBDA_FUNCTION_NAME", "lab only", "set by Lambda on AWS"},
	{"PILOTLIGHT_ENDPOINTS", "lab only", "each region's DynamoDB and S3 endpoints in the lab (the SDK's defaults on AWS)"},
	{"PILOTLIGHT_ROUTING_URL", "lab only", "the front door's routing view (the lab's Route 53 stand-in); on AWS the second opinion is the witness, Route 53 optional"},
	{"PILOTLIGHT_ALARM_URL", "lab only", "the lab alarm's state, in place of cloudwatch:DescribeAlarms on PILOTLIGHT_ALARM_NAME"},
	{"PILOTLIGHT_ALARM_NAME", "AWS only", "read with cloudwatch:DescribeAlarms; the lab serves the state at PILOTLIGHT_ALARM_URL"},
	{"PILOTLIGHT_NOTIFY_FILE", "lab only", "notifications go to .lab/notifications.log, in place of the SNS topic"},
	{"PILOTLIGHT_NOTIFY_TOPIC", "AWS only", "the SNS topic; the lab writes PILOTLIGHT_NOTIFY_FILE"},
	{"PILOTLIGHT_ACCOUNT", "AWS only", "bucket names carry the account ID on AWS; the lab's do not"},
	{"PILOTLIGHT_CLOCK_OFFSET_FILE", "lab only", "the clock-skew fault's offset for the region's functions"},
	{"PILOTLIGHT_CLOCK_EPSILON, PILOTLIGHT_WRITE_DEADLINE", "lab only", "the lease arithmetic's ε and δ: 250 ms and 750 ms (one machine's clocks, local calls); on AWS the code's defaults, 500 ms and 5 s"},
	{"PILOTLIGHT_RENEW_FOR", "value", "two of the lab's 1 s schedule periods, as on AWS two of its 1 min ones: each run renews across the next, so one late or dropped run costs no writes"},
	{"PILOTLIGHT_AGREEMENT_WAIT", "lab only", "how long a failover waits for the routing view to agree the primary is down: the front door's own detection (3 × 1 s) + 2 s; on AWS the default, 30 s (Route 53's fast checks)"},
	{"PILOTLIGHT_PROBE_INTERVAL", "AWS only", "on AWS one health-check run probes every 10 s within its 1-minute schedule; the lab schedules a run every second"},
	{"PILOTLIGHT_METRICS", "AWS only", "which CloudWatch metrics to emit (cost); the lab's alarm reads every metric"},
	{"PILOTLIGHT_MIN_DWELL", "value", "the drill's setting (a drill fails back within a minute); 10 min on AWS"},
	{"PILOTLIGHT_FAILOVER_MODE", "value", "the lab's setting (lab up --manual); the FailoverMode parameter on AWS"},
	{"PILOTLIGHT_S3_CANARY_WRITE_EVERY", "value", "30 s in the lab (the canary is read every second, and a lab does not run for days); 10 min on AWS"},
	{"PILOTLIGHT_APP_URLS", "value", "the front door's per-region paths stand for the function URLs; the DR region's health check also probes the primary's URL on AWS, the lab gives every function both"},
	{"PILOTLIGHT_TIME_SERVER", "value", "the lab's SNTP server on the true clock (the clock-skew fault shifts the functions' clock) stands for time.aws.com"},
	{"ReconcileSchedule", "value", "the controller's tick runs every health interval (1 s), not every minute scaled (6 s): it resumes a run whose controller died, and the chaos scenarios kill it mid-run"},
	{"PrimaryHealthAlarm.TreatMissingData", "value", "breaching in the lab (a health check the lab starved counts as failing, so a drill cannot stall), missing on AWS (no data is no reason to fail over)"},
	{"ValidatorSchedule, BackupSchedule, BackupPruneSchedule", "AWS only", "the lab runs the validator, backups and retention on demand (the drill, pilotlight validate and backup), not every 6 hours / day scaled"},
	{"PILOTLIGHT_BACKUP_KEEP, PILOTLIGHT_BACKUP_MAX_AGE", "AWS only", "retention; the lab keeps the code's defaults (7 snapshots, 30 days), which are the templates' values"},
}

// overrideFor returns the override of key, if the table has one.
func overrideFor(key string) (LabOverride, bool) {
	for _, o := range LabOverrides {
		for _, k := range strings.Split(o.Key, ", ") {
			if k == key {
				return o, true
			}
		}
	}
	return LabOverride{}, false
}

// scaled divides a template's duration value by TimeScale; other values
// are returned as they are.
func scaled(v string) string {
	d, err := time.ParseDuration(v)
	if err != nil || d == 0 {
		return v
	}
	return (d / TimeScale).String()
}

// Templates are the templates whose resources the lab runs: the two
// application regions' and (nil: the shipped one) the witness's.
type Templates struct{ Primary, DR, Witness []byte }

// Shipped are the templates deploy uses.
var Shipped = Templates{Primary: cloudformation.Primary, DR: cloudformation.DR, Witness: cloudformation.Witness}

// resolver resolves the region's template (the primary's or the DR
// region's) as deploy would for this lab.
func resolver(c fnenv.Check, t Templates, regionName string) (*cfn.Resolver, error) {
	return resolverFor(c, t, regionName, 0)
}

// resolverFor is resolver with the RPO objective a user set (0: the default).
func resolverFor(c fnenv.Check, t Templates, regionName string, rpoObjective time.Duration) (*cfn.Resolver, error) {
	plan := deploy.Plan{Names: c.Names, Primary: c.Primary, DR: c.DR, Witness: "none", Profile: "fast", RPOObjective: rpoObjective}
	if c.Witness != "" {
		plan.Witness = c.Witness
	}
	plan.Names.Account = account(c)
	if c.Manual {
		plan.FailoverMode = "manual"
	}
	body, name := t.Primary, "primary-region.yaml"
	params := plan.PrimaryParameters(nil, c.AppURL(c.DR))
	if regionName == c.DR {
		body, name = t.DR, "dr-region.yaml"
		params = plan.DRParameters(nil, c.AppURL(c.Primary))
	}
	tpl, err := cfn.Parse(name, body)
	if err != nil {
		return nil, err
	}
	return &cfn.Resolver{T: tpl, Params: params, Region: regionName, Account: plan.Names.Account,
		Attr: func(id, attr string) (string, bool) {
			switch {
			case id == "AppFunctionUrl" && attr == "FunctionUrl":
				return c.AppURL(regionName), true
			case id == "NotificationTopic" && attr == "":
				return "arn:aws:sns:" + regionName + ":" + plan.Names.Account + ":" + plan.Names.FailoverTopic(), true
			}
			return "", false
		}}, nil
}

// account is the lab's account ID: the names' own, else twelve zeros.
func account(c fnenv.Check) string {
	if c.Names.Account != "" {
		return c.Names.Account
	}
	return "000000000000"
}

// templateFunctions resolves the region's template's functions.
func templateFunctions(c fnenv.Check, t Templates, regionName string) ([]cfn.Function, error) {
	r, err := resolver(c, t, regionName)
	if err != nil {
		return nil, err
	}
	return r.Functions()
}

// bucketNames maps the lab's bucket names (no account ID) to the names the
// templates give them on AWS, or (fromAWS) the other way round.
func bucketNames(c fnenv.Check, fromAWS bool) map[string]string {
	awsNames := c.Names
	awsNames.Account = account(c)
	out := map[string]string{}
	for _, r := range []string{c.Primary, c.DR} {
		for _, pair := range [][2]string{{c.Names.Bucket(r), awsNames.Bucket(r)}, {c.Names.BackupBucket(r), awsNames.BackupBucket(r)}} {
			if fromAWS {
				out[pair[1]] = pair[0]
			} else {
				out[pair[0]] = pair[1]
			}
		}
	}
	return out
}

// Access is lab.Options.Access: each function the templates deploy in the
// lab's primary and DR regions gets its template role, resolved for the
// region, and every bucket its bucket policy.
func Access(c fnenv.Check) (access.Access, error) { return AccessFrom(c, Shipped) }

// AccessFrom is Access from other templates (a test's copy).
func AccessFrom(c fnenv.Check, t Templates) (access.Access, error) {
	acct := account(c)
	buckets := bucketNames(c, false)
	out := access.Access{Account: acct, Roles: map[string]access.Role{}, BucketPolicies: map[string][]iampolicy.Policy{},
		AWSBucket: func(b string) string {
			if n, ok := buckets[b]; ok {
				return n
			}
			return b
		}}
	for _, regionName := range []string{c.Primary, c.DR} {
		r, err := resolver(c, t, regionName)
		if err != nil {
			return access.Access{}, err
		}
		fns, err := r.Functions()
		if err != nil {
			return access.Access{}, err
		}
		for _, f := range fns {
			if f.Role == "" {
				return access.Access{}, fmt.Errorf("%s: %s: its Role is not a Fn::GetAtt of a role in the template", r.T.Name, f.LogicalID)
			}
			role, err := r.Role(f.Role)
			if err != nil {
				return access.Access{}, err
			}
			lr := access.Role{Name: role.Name}
			for i, doc := range role.Policies {
				p, err := iampolicy.Parse(doc)
				if err != nil {
					return access.Access{}, fmt.Errorf("%s: %s: policy %d: %w", r.T.Name, role.LogicalID, i+1, err)
				}
				lr.Policies = append(lr.Policies, p)
			}
			out.Roles[regionName+"/"+c.Names.Short(f.Name)] = lr
		}
		bps, err := r.BucketPolicies()
		if err != nil {
			return access.Access{}, err
		}
		for bucket, doc := range bps {
			p, err := iampolicy.Parse(doc)
			if err != nil {
				return access.Access{}, fmt.Errorf("%s: the policy of bucket %s: %w", r.T.Name, bucket, err)
			}
			out.BucketPolicies[bucket] = append(out.BucketPolicies[bucket], iampolicy.ForEveryone(p))
		}
	}
	return out, nil
}

// emulated are the resource types the lab stands in for, and how.
var emulated = map[string]bool{
	"AWS::DynamoDB::Table": true, "AWS::DynamoDB::GlobalTable": true, // DynamoDB Local, and the lab's replicator
	"AWS::S3::Bucket": true,                                // versitygw, and the lab's replicator (its replication rules)
	"AWS::IAM::Role":  true, "AWS::S3::BucketPolicy": true, // the fronts evaluate them
	"AWS::Lambda::Function": true, "AWS::Lambda::Url": true, // the emulator, the front door
	"AWS::Lambda::Permission": true,                                 // the front door's function-URL auth
	"AWS::Events::Rule":       true, "AWS::CloudWatch::Alarm": true, // the lab's scheduler and alarm (its own settings, scaled)
}

// NotEmulated lists what the shipped templates deploy that the lab does
// not emulate: resource type and how many, sorted.
func NotEmulated() []string {
	count := map[string]int{}
	for _, body := range [][]byte{Shipped.Primary, Shipped.DR, Shipped.Witness, cloudformation.Global} {
		tpl, err := cfn.Parse("template", body)
		if err != nil {
			continue // the template tests report it
		}
		for _, res := range tpl.Resources {
			if typ, _ := res["Type"].(string); !emulated[typ] {
				count[typ]++
			}
		}
	}
	out := make([]string, 0, len(count))
	for typ, n := range count {
		out = append(out, fmt.Sprintf("%s ×%d", strings.TrimPrefix(typ, "AWS::"), n))
	}
	sort.Strings(out)
	return out
}

// Resources is lab.Options.Resources: the tables and buckets the shipped
// templates deploy in the lab's regions, resolved as deploy would.
func Resources(c fnenv.Check) (provision.Resources, error) { return ResourcesFrom(c, Shipped) }

// ResourcesFrom is Resources from other templates (a test's copy). Bucket
// names become the lab's (which carry no account ID).
func ResourcesFrom(c fnenv.Check, t Templates) (provision.Resources, error) {
	out := provision.Resources{Tables: map[string][]provision.TableSpec{}, Buckets: map[string][]provision.BucketSpec{}}
	awsNames := c.Names
	awsNames.Account = account(c)
	labBucket := bucketNames(c, true)
	add := func(r *cfn.Resolver) error {
		tables, err := r.Tables()
		if err != nil {
			return err
		}
		for _, tb := range tables {
			spec := provision.TableSpec{Name: tb.Name, Stream: tb.StreamView, TTL: tb.TTL}
			for _, k := range tb.Keys {
				spec.Keys = append(spec.Keys, provision.KeySpec{Name: k.Name, Type: k.Type})
			}
			out.Tables[tb.Region] = append(out.Tables[tb.Region], spec)
		}
		buckets, err := r.Buckets()
		if err != nil {
			return err
		}
		for _, b := range buckets {
			name := b.Name
			if n, ok := labBucket[name]; ok {
				name = n
			}
			out.Buckets[r.Region] = append(out.Buckets[r.Region], provision.BucketSpec{Name: name, Versioned: b.Versioned})
		}
		return nil
	}
	for _, regionName := range []string{c.Primary, c.DR} {
		r, err := resolver(c, t, regionName)
		if err != nil {
			return provision.Resources{}, err
		}
		if err := add(r); err != nil {
			return provision.Resources{}, err
		}
	}
	if c.Witness != "" {
		body := t.Witness
		if body == nil {
			body = Shipped.Witness
		}
		tpl, err := cfn.Parse("witness-region.yaml", body)
		if err != nil {
			return provision.Resources{}, err
		}
		if err := add(&cfn.Resolver{T: tpl, Params: map[string]string{"AppName": c.Names.App}, Region: c.Witness, Account: awsNames.Account}); err != nil {
			return provision.Resources{}, err
		}
	}
	return out, nil
}

// scheduleDrift holds the lab's scheduler and detection alarm to the DR
// template's schedules and alarm, scaled: the health check's probe
// interval (its schedule, or PILOTLIGHT_PROBE_INTERVAL within it), the
// alarm's metric, statistic, threshold, period and M of N, and the
// controller's reconcile schedule. Differences in LabOverrides are allowed.
func scheduleDrift(c fnenv.Check, t Templates) ([]string, error) {
	s := c.Schedule
	if s.HealthInterval == 0 {
		return nil, nil
	}
	r, err := resolver(c, t, c.DR)
	if err != nil {
		return nil, err
	}
	var problems []string
	differs := func(what, labV, tmplV string) {
		if labV == tmplV {
			return
		}
		if o, ok := overrideFor(what); ok && o.Kind == "value" {
			return
		}
		problems = append(problems, fmt.Sprintf("%s: %s in the lab, %s in dr-region.yaml (scaled by %d)", what, labV, tmplV, TimeScale))
	}
	prop := func(id, name string) (string, error) {
		props, _ := r.T.Resources[id]["Properties"].(map[string]any)
		if props == nil {
			return "", fmt.Errorf("dr-region.yaml: no resource %s (the lab stands in for it)", id)
		}
		return r.String(props[name])
	}
	rate := func(id string) (time.Duration, error) {
		expr, err := prop(id, "ScheduleExpression")
		if err != nil {
			return 0, err
		}
		return cost.RatePeriod(expr)
	}
	hc, err := rate("HealthCheckSchedule")
	if err != nil {
		return nil, err
	}
	fns, err := r.Functions()
	if err != nil {
		return nil, err
	}
	for _, f := range fns {
		if f.LogicalID == "HealthCheckFunction" {
			if d, err := time.ParseDuration(f.Env["PILOTLIGHT_PROBE_INTERVAL"]); err == nil && d > 0 && d < hc {
				hc = d
			}
		}
	}
	differs("HealthCheckSchedule", s.HealthInterval.String(), (hc / TimeScale).String())
	rec, err := rate("ReconcileSchedule")
	if err != nil {
		return nil, err
	}
	differs("ReconcileSchedule", s.ReconcileEvery.String(), (rec / TimeScale).String())
	want := map[string]string{"MetricName": "RegionHealthy", "Statistic": "Minimum", "Threshold": "1", "ComparisonOperator": "LessThanThreshold"}
	for _, name := range []string{"MetricName", "Statistic", "Threshold", "ComparisonOperator"} {
		v, err := prop("PrimaryHealthAlarm", name)
		if err != nil {
			return nil, fmt.Errorf("dr-region.yaml: PrimaryHealthAlarm.%s: %w", name, err)
		}
		differs("PrimaryHealthAlarm."+name, want[name], v)
	}
	period, err := prop("PrimaryHealthAlarm", "Period")
	if err != nil {
		return nil, err
	}
	secs, _ := strconv.Atoi(period)
	differs("PrimaryHealthAlarm.Period", s.AlarmPeriod.String(), (time.Duration(secs) * time.Second / TimeScale).String())
	for _, name := range []string{"EvaluationPeriods", "DatapointsToAlarm"} {
		v, err := prop("PrimaryHealthAlarm", name)
		if err != nil {
			return nil, err
		}
		differs("PrimaryHealthAlarm."+name, strconv.Itoa(s.AlarmPeriods), v)
	}
	missing, err := prop("PrimaryHealthAlarm", "TreatMissingData")
	if err != nil {
		return nil, err
	}
	differs("PrimaryHealthAlarm.TreatMissingData", s.AlarmMissing, missing)
	// The lab's alarm invokes the controller with the event CloudWatch
	// sends on ALARM; on AWS an EventBridge rule must match that event and
	// target the controller, or no alarm ever fails over.
	alarmName, err := prop("PrimaryHealthAlarm", "AlarmName")
	if err != nil {
		return nil, err
	}
	var ev map[string]any
	_ = json.Unmarshal(alarm.AlarmEvent(alarmName, c.DR, "ALARM", "lab", "2026-01-01T00:00:00Z"), &ev)
	if !ruleRoutes(r, ev, "FailoverControllerFunction") {
		problems = append(problems, fmt.Sprintf("dr-region.yaml: no enabled EventBridge rule matches the ALARM event of %s and targets the failover controller: the lab's alarm invokes it, AWS would not", alarmName))
	}
	return problems, nil
}

// ruleRoutes reports whether an enabled Events::Rule of the template
// matches ev and targets the resource target.
func ruleRoutes(r *cfn.Resolver, ev map[string]any, target string) bool {
	for _, res := range r.T.Resources {
		if res["Type"] != "AWS::Events::Rule" {
			continue
		}
		props, _ := res["Properties"].(map[string]any)
		v, err := r.Value(props)
		if err != nil {
			continue
		}
		p, _ := v.(map[string]any)
		pattern, _ := p["EventPattern"].(map[string]any)
		if pattern == nil || (p["State"] != nil && p["State"] != "ENABLED") || !patternMatches(pattern, ev) {
			continue
		}
		want, err := r.Value(map[string]any{"Fn::GetAtt": []any{target, "Arn"}})
		if err != nil {
			continue
		}
		targets, _ := p["Targets"].([]any)
		for _, t := range targets {
			if tm, _ := t.(map[string]any); tm["Arn"] == want {
				return true
			}
		}
	}
	return false
}

// patternMatches is EventBridge's matching for the patterns the templates
// use: every field of the pattern must be in the event; a list matches a
// value equal to one of its entries (any entry of a list value); an object
// matches an object field by field. Content filters ({"prefix": …} and
// the like) match nothing here: the lab does not evaluate them.
func patternMatches(pattern, ev map[string]any) bool {
	for k, pv := range pattern {
		evv, ok := ev[k]
		if !ok {
			return false
		}
		switch p := pv.(type) {
		case map[string]any:
			em, ok := evv.(map[string]any)
			if !ok || !patternMatches(p, em) {
				return false
			}
		case []any:
			values, isList := evv.([]any)
			if !isList {
				values = []any{evv}
			}
			hit := false
			for _, want := range p {
				for _, have := range values {
					if _, filter := want.(map[string]any); !filter && fmt.Sprint(want) == fmt.Sprint(have) {
						hit = true
					}
				}
			}
			if !hit {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Check is lab.Options.CheckEnv: it holds the lab's functions to the
// shipped templates.
func Check(c fnenv.Check) error { return CheckAgainst(c, Shipped) }

// CheckAgainst compares each function's lab environment (KEY=VALUE) with
// the template's and returns every difference not in LabOverrides.
func CheckAgainst(c fnenv.Check, t Templates) error {
	envs := c.Envs
	byRegion := map[string][]cfn.Function{}
	var problems []string
	keys := make([]string, 0, len(envs))
	for k := range envs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		regionName, fn, _ := strings.Cut(k, "/")
		fns, ok := byRegion[regionName]
		if !ok {
			var err error
			if fns, err = templateFunctions(c, t, regionName); err != nil {
				return err
			}
			byRegion[regionName] = fns
		}
		name := c.Names.Function(fn)
		var tf *cfn.Function
		for i := range fns {
			if fns[i].Name == name {
				tf = &fns[i]
			}
		}
		if tf == nil {
			problems = append(problems, fmt.Sprintf("%s: the lab runs %s, which the %s template does not define", regionName, name, roleOf(c, regionName)))
			continue
		}
		lab := map[string]string{}
		for _, kv := range envs[k] {
			if key, v, ok := strings.Cut(kv, "="); ok && (strings.HasPrefix(key, "PILOTLIGHT_") || strings.HasPrefix(key, "AWS_")) {
				lab[key] = v
			}
		}
		tmpl := map[string]string{"AWS_LAMBDA_FUNCTION_TIMEOUT": strconv.Itoa(tf.Timeout)}
		for key, v := range tf.Env {
			tmpl[key] = scaled(v)
		}
		for _, key := range union(lab, tmpl) {
			lv, inLab := lab[key]
			tv, inTmpl := tmpl[key]
			if inLab && inTmpl && lv == tv {
				continue
			}
			o, ok := overrideFor(key)
			switch {
			case inLab && !inTmpl && !(ok && o.Kind == "lab only"):
				problems = append(problems, fmt.Sprintf("%s: the lab sets %s=%s, which the template does not: add it to the template, or to the lab's overrides with why", name+" in "+regionName, key, lv))
			case inTmpl && !inLab && !(ok && o.Kind == "AWS only"):
				problems = append(problems, fmt.Sprintf("%s: the template sets %s=%s (scaled), which the lab does not", name+" in "+regionName, key, tv))
			case inLab && inTmpl && !(ok && o.Kind == "value"):
				problems = append(problems, fmt.Sprintf("%s: %s is %s in the lab, %s in the template (scaled by %d)", name+" in "+regionName, key, lv, tv, TimeScale))
			}
		}
	}
	sched, err := scheduleDrift(c, t)
	if err != nil {
		return err
	}
	problems = append(problems, sched...)
	if len(problems) > 0 {
		return fmt.Errorf("the lab's functions differ from the templates:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

func roleOf(c fnenv.Check, regionName string) string {
	if regionName == c.DR {
		return "DR"
	}
	return "primary"
}

func union(a, b map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]string{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Alarms resolves the CloudWatch alarms of the primary's and the DR
// region's templates as deploy would for this lab with the given RPO
// objective (0: the default), by region.
func Alarms(c fnenv.Check, t Templates, rpoObjective time.Duration) (map[string][]cfn.Alarm, error) {
	out := map[string][]cfn.Alarm{}
	for _, r := range []string{c.Primary, c.DR} {
		res, err := resolverFor(c, t, r, rpoObjective)
		if err != nil {
			return nil, err
		}
		if out[r], err = res.Alarms(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
