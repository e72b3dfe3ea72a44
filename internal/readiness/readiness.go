// Package readiness owns `pilotlight check`: would a failover work right
// now? Like Route 53 Application Recovery Controller's readiness checks, it
// compares what the two regions hold (table schema and streams, versioned
// buckets), reads the control records (and the witness's) and the write
// lease, replication, the last drill and the last backup, and says for each
// whether it passes, with the fix when it does not.
package readiness

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/backup"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/drill/report"
	"github.com/pilotlight/pilotlight/internal/region"
)

// Status of one check.
type Status string

const (
	Pass Status = "PASS"
	Warn Status = "WARN" // ready, but look at it
	Fail Status = "FAIL" // not ready
)

// Result is one check.
type Result struct {
	Check  string `json:"check"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Report is every check; Ready when none failed.
type Report struct {
	Results []Result `json:"results"`
	Ready   bool     `json:"ready"`
}

// Replication is what the target says of replication (the lab's
// replicators; on AWS, nil: the health check's lag metric stands for it).
type Replication struct {
	Paused        bool
	OldestPending time.Duration // the oldest table change not yet applied
}

// Input is what the checks read.
type Input struct {
	Primary, DR, Witness string
	Names                region.Names
	Clients              map[string]*region.Clients // the primary's and the DR region's
	Stores               map[string]*control.Store  // every control record, the witness's too
	Lease                control.LeaseConfig
	// Replication, when set, reports the replicators' state.
	Replication  func(ctx context.Context) (Replication, error)
	RPOObjective time.Duration
	// RTOObjective and DetectionFloor (the least time detection takes:
	// alarm periods × datapoints, plus routing's TTL): a floor the
	// objective cannot hold warns. Zero floor: not known, not checked.
	RTOObjective, DetectionFloor time.Duration
	History                      report.History
	Now                          func() time.Time
	// DrillMaxAge and BackupMaxAge: older than this warns (0: 30 days and 2 days).
	DrillMaxAge, BackupMaxAge time.Duration
	// AWS is the control plane to check on AWS (nil in the lab).
	AWS *ControlPlane
	// Apps are the applications protect apply adopted.
	Apps []App
}

// ControlPlane is what check reads on AWS: the alarms (in the DR region)
// and every schedule, by region.
type ControlPlane struct {
	Alarms    AlarmDescriber
	AlarmList []string
	Rules     map[string]RuleDescriber // region → its EventBridge
	Schedules map[string][]string      // region → rule names
	// Credentials are the operator's (a failover at 3 a.m. must not stop at
	// an expired session).
	Credentials aws.CredentialsProvider
	// Functions reads function configurations, by region; InBoth names
	// the functions deployed in both regions (the controller and the
	// validator run in the DR region only).
	Functions map[string]FunctionReader
	InBoth    []string
}

// FunctionReader is the part of the Lambda API check uses.
type FunctionReader interface {
	GetFunctionConfiguration(ctx context.Context, in *lambda.GetFunctionConfigurationInput, opts ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error)
}

// PerRegionKeys are the environment variables meant to differ between a
// function's two copies: which region is the peer, the URLs it probes, and
// the DR region's faster probing.
var PerRegionKeys = []string{"PILOTLIGHT_PEER_REGION", "PILOTLIGHT_APP_URLS", "PILOTLIGHT_PROBE_INTERVAL", "PILOTLIGHT_METRICS"}

// AlarmDescriber is the part of the CloudWatch API check uses.
type AlarmDescriber interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

// RuleDescriber is the part of the EventBridge API check uses.
type RuleDescriber interface {
	DescribeRule(ctx context.Context, in *eventbridge.DescribeRuleInput, opts ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error)
}

// Run runs every check.
func Run(ctx context.Context, in Input) Report {
	if in.Now == nil {
		in.Now = time.Now
	}
	checks := []func(context.Context, Input) Result{
		controlRecords, writable, tableSchema, bucketsVersioned, replication, objectives, lastDrill, lastBackup,
	}
	if in.AWS != nil {
		checks = append(checks, alarms, schedules, credentialsCheck, functions)
	}
	for _, a := range in.Apps {
		checks = append(checks, a.checks()...)
	}
	var r Report
	r.Ready = true
	for _, c := range checks {
		res := c(ctx, in)
		if res.Status == Fail {
			r.Ready = false
		}
		r.Results = append(r.Results, res)
	}
	return r
}

func (in Input) regions() []string {
	rs := []string{in.Primary, in.DR}
	if in.Witness != "" {
		rs = append(rs, in.Witness)
	}
	return rs
}

// controlRecords: every control record present, readable and agreeing.
func controlRecords(ctx context.Context, in Input) Result {
	res := Result{Check: "control records"}
	var bad, parts []string
	recs := map[string]record.Active{}
	for _, r := range in.regions() {
		st, ok := in.Stores[r]
		if !ok {
			bad = append(bad, r+": no control table configured")
			continue
		}
		a, err := st.Active(ctx)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", r, err))
			continue
		}
		recs[r] = a
		parts = append(parts, fmt.Sprintf("%s: %s@%d", r, a.Region, a.Epoch))
	}
	if len(bad) > 0 {
		res.Status, res.Detail = Fail, strings.Join(bad, "; ")
		res.Fix = "a missing record: deploy writes the first ones (pilotlight deploy; in the lab, pilotlight lab down && pilotlight lab up); an unreadable one: that region's control table is down"
		return res
	}
	first := recs[in.Primary]
	for r, a := range recs {
		if a.Region != first.Region || a.Epoch != first.Epoch {
			res.Status, res.Detail = Warn, "records differ ("+strings.Join(parts, ", ")+"): "+r+" has not caught up"
			res.Fix = "a fence or a handover is still landing: the controller's tick retries it; pilotlight status shows which"
			return res
		}
	}
	res.Status, res.Detail = Pass, fmt.Sprintf("%d records agree: %s active at epoch %d", len(recs), first.Region, first.Epoch)
	return res
}

// writable: some region accepts writes now (its lease is live).
func writable(ctx context.Context, in Input) Result {
	res := Result{Check: "writable region"}
	for _, r := range []string{in.Primary, in.DR} {
		st, ok := in.Stores[r]
		if !ok {
			continue
		}
		ws, err := st.WriteState(ctx)
		if err != nil {
			continue
		}
		if ws.Writable(r, in.Now(), in.Lease) == nil {
			res.Status, res.Detail = Pass, fmt.Sprintf("%s accepts writes (lease until %s)", r, ws.Lease.Until.Local().Format("15:04:05.000"))
			return res
		}
	}
	res.Status, res.Detail = Fail, "no region accepts writes"
	res.Fix = "the active region's health check is not renewing its lease (is it running? is a majority of control records reachable?); pilotlight status says why"
	return res
}

// tableSchema: the protected table has the same keys, billing and stream in
// both regions, and its stream is on (global-table replication needs it).
func tableSchema(ctx context.Context, in Input) Result {
	res := Result{Check: "table " + in.Names.Table()}
	desc, problems := tableAlike(ctx, in, in.Names.Table())
	if len(problems) > 0 {
		res.Status, res.Detail = Fail, strings.Join(problems, "; ")
		res.Fix = "both replicas must match and stream NEW_AND_OLD_IMAGES: redeploy (pilotlight deploy), or in the lab restart it"
		return res
	}
	res.Status, res.Detail = Pass, "same in both regions: "+desc
	return res
}

// tableAlike reads a table in both regions: its description when its
// keys, stream and billing are alike and its stream is on, or what is not.
func tableAlike(ctx context.Context, in Input, table string) (string, []string) {
	var descs []string
	var problems []string
	for _, r := range []string{in.Primary, in.DR} {
		c, ok := in.Clients[r]
		if !ok {
			problems = append(problems, r+": no client")
			continue
		}
		out, err := c.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", r, err))
			continue
		}
		t := out.Table
		var keys []string
		for _, k := range t.KeySchema {
			keys = append(keys, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
		}
		stream := "off"
		if t.StreamSpecification != nil && aws.ToBool(t.StreamSpecification.StreamEnabled) {
			stream = string(t.StreamSpecification.StreamViewType)
		} else {
			problems = append(problems, r+": stream off")
		}
		billing := ""
		if t.BillingModeSummary != nil {
			billing = string(t.BillingModeSummary.BillingMode)
		}
		descs = append(descs, fmt.Sprintf("keys %s, stream %s, billing %s", strings.Join(keys, ","), stream, billing))
	}
	if len(problems) == 0 && len(descs) == 2 && descs[0] != descs[1] {
		problems = append(problems, fmt.Sprintf("%s has %s, %s has %s", in.Primary, descs[0], in.DR, descs[1]))
	}
	if len(problems) > 0 {
		return "", problems
	}
	return descs[0], nil
}

// bucketsVersioned: data and backup buckets versioned in both regions
// (replication needs versioning on both sides).
func bucketsVersioned(ctx context.Context, in Input) Result {
	res := Result{Check: "buckets versioned"}
	var problems []string
	n := 0
	for _, r := range []string{in.Primary, in.DR} {
		c, ok := in.Clients[r]
		if !ok {
			continue
		}
		for _, b := range []string{in.Names.Bucket(r), in.Names.BackupBucket(r)} {
			out, err := c.S3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(b)})
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("%s: %v", b, err))
			case out.Status != s3types.BucketVersioningStatusEnabled:
				problems = append(problems, fmt.Sprintf("%s: versioning %q", b, cmp.Or(string(out.Status), "never enabled")))
			default:
				n++
			}
		}
	}
	return verdict(res, problems, "turn versioning on (aws s3api put-bucket-versioning --versioning-configuration Status=Enabled), or redeploy: replication and point-in-time object recovery need it",
		fmt.Sprintf("%d buckets versioned", n))
}

// replication: running, and no older backlog than the RPO objective.
func replication(ctx context.Context, in Input) Result {
	res := Result{Check: "replication"}
	if in.Replication == nil {
		res.Status, res.Detail = Pass, "global table and S3 replication are AWS-managed: the replication-lag alarm watches them against the RPO objective"
		return res
	}
	st, err := in.Replication(ctx)
	if err != nil {
		res.Status, res.Detail, res.Fix = Fail, err.Error(), "is the lab running? pilotlight lab status"
		return res
	}
	switch {
	case st.Paused:
		res.Status, res.Detail, res.Fix = Fail, "paused: nothing replicates, and a failback would be refused", "pilotlight lab replication resume"
	case in.RPOObjective > 0 && st.OldestPending > in.RPOObjective:
		res.Status, res.Detail = Fail, fmt.Sprintf("the oldest change waiting is %s old, beyond the RPO objective %s", st.OldestPending.Round(time.Millisecond), in.RPOObjective)
		res.Fix = "a failover now would lose more than the objective allows: find why replication lags (pilotlight lab status)"
	default:
		res.Status, res.Detail = Pass, fmt.Sprintf("running; oldest pending change %s (objective %s)", st.OldestPending.Round(time.Millisecond), in.RPOObjective)
	}
	return res
}

// objectives: the detection profile can meet the RTO objective at all:
// detection alone takes the floor, and a failover adds tens of seconds on
// AWS (decision, fencing, verification, clients moving).
func objectives(_ context.Context, in Input) Result {
	res := Result{Check: "objectives"}
	switch {
	case in.RTOObjective <= 0 || in.DetectionFloor <= 0:
		res.Status, res.Detail = Pass, "not checked (no RTO objective or detection floor known)"
	case in.DetectionFloor >= in.RTOObjective:
		res.Status = Fail
		res.Detail = fmt.Sprintf("detection alone takes %s, the RTO objective is %s: no failover can meet it", in.DetectionFloor, in.RTOObjective)
		res.Fix = "a faster detection profile (deploy --detection fast), or an objective the profile can meet (PILOTLIGHT_RTO_OBJECTIVE)"
	case in.DetectionFloor*5 > in.RTOObjective*4:
		res.Status = Warn
		res.Detail = fmt.Sprintf("detection takes %s of the %s RTO objective: little is left for the failover itself", in.DetectionFloor, in.RTOObjective)
		res.Fix = "a faster detection profile, or a looser objective; a drill shows the real figure"
	default:
		res.Status, res.Detail = Pass, fmt.Sprintf("detection floor %s within the RTO objective %s", in.DetectionFloor, in.RTOObjective)
	}
	return res
}

// alarms: every alarm there, none stuck without data (an alarm that never
// gets data never fires: its metric is not being emitted).
func alarms(ctx context.Context, in Input) Result {
	res := Result{Check: "alarms"}
	out, err := in.AWS.Alarms.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: in.AWS.AlarmList})
	if err != nil {
		res.Status, res.Detail, res.Fix = Fail, err.Error(), "can these credentials call cloudwatch:DescribeAlarms?"
		return res
	}
	state := map[string]string{}
	for _, a := range out.MetricAlarms {
		state[aws.ToString(a.AlarmName)] = string(a.StateValue)
	}
	var missing, stuck, parts []string
	for _, name := range in.AWS.AlarmList {
		s, ok := state[name]
		switch {
		case !ok:
			missing = append(missing, name)
		case s == string(cwtypes.StateValueInsufficientData):
			stuck = append(stuck, name)
		}
		parts = append(parts, name+" "+cmp.Or(s, "missing"))
	}
	switch {
	case len(missing) > 0:
		res.Status, res.Detail, res.Fix = Fail, "not there: "+strings.Join(missing, ", "), "pilotlight deploy"
	case len(stuck) > 0:
		res.Status, res.Detail = Warn, "no data: "+strings.Join(stuck, ", ")
		res.Fix = "the metric is not being emitted: is the DR health check (or validator) running? (new alarms need a few periods)"
	default:
		res.Status, res.Detail = Pass, strings.Join(parts, "; ")
	}
	return res
}

// schedules: every schedule there and enabled (a disabled health check is
// a primary nobody watches; a disabled reconcile never retries).
func schedules(ctx context.Context, in Input) Result {
	res := Result{Check: "schedules"}
	var bad []string
	n := 0
	for _, r := range []string{in.Primary, in.DR} {
		rules := in.AWS.Rules[r]
		if rules == nil {
			continue
		}
		for _, name := range in.AWS.Schedules[r] {
			out, err := rules.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(name)})
			switch {
			case err != nil:
				bad = append(bad, fmt.Sprintf("%s (%s): %v", name, r, err))
			case out.State != ebtypes.RuleStateEnabled:
				bad = append(bad, fmt.Sprintf("%s (%s): %s", name, r, out.State))
			default:
				n++
			}
		}
	}
	return verdict(res, bad, "aws events enable-rule --name NAME --region REGION, or redeploy (pilotlight deploy); cleanup turns them off",
		fmt.Sprintf("%d schedules enabled", n))
}

// credentialsCheck: the operator's credentials work and will for a while.
func credentialsCheck(ctx context.Context, in Input) Result {
	res := Result{Check: "credentials"}
	if in.AWS.Credentials == nil {
		res.Status, res.Detail = Pass, "not checked"
		return res
	}
	c, err := in.AWS.Credentials.Retrieve(ctx)
	switch {
	case err != nil:
		res.Status, res.Detail, res.Fix = Fail, err.Error(), "log in again (aws sso login, or fresh keys in .env)"
	case !c.CanExpire:
		res.Status, res.Detail = Pass, "long-term keys: they do not expire (rotate them)"
	case time.Until(c.Expires) < time.Hour:
		res.Status, res.Detail = Warn, fmt.Sprintf("they expire in %s", time.Until(c.Expires).Round(time.Minute))
		res.Fix = "renew them before you need a failover (aws sso login)"
	default:
		res.Status, res.Detail = Pass, "valid until "+c.Expires.Local().Format(time.RFC3339)
	}
	return res
}

// functions: a function deployed in both regions runs the same code with the
// same configuration there, apart from PerRegionKeys: a DR copy left on an
// old build fails over into different behaviour.
func functions(ctx context.Context, in Input) Result {
	res := Result{Check: "functions"}
	if len(in.AWS.Functions) == 0 {
		res.Status, res.Detail = Pass, "not checked"
		return res
	}
	var bad []string
	for _, fn := range in.AWS.InBoth {
		bad = append(bad, in.functionAlike(ctx, in.AWS.Functions, fn, fn+" differs between "+in.Primary+" and "+in.DR)...)
	}
	return verdict(res, bad, "redeploy both regions from one build (pilotlight deploy)",
		fmt.Sprintf("%d functions alike in both regions (code SHA-256 and configuration; per-region keys %s aside)", len(in.AWS.InBoth), strings.Join(PerRegionKeys, ", ")))
}

// functionAlike reads fn's configuration in both regions and returns what
// keeps them from being alike: a read that failed, or the differences
// (configDiff), after what.
func (in Input) functionAlike(ctx context.Context, readers map[string]FunctionReader, fn, what string) []string {
	var bad []string
	var confs []*lambda.GetFunctionConfigurationOutput
	for _, r := range []string{in.Primary, in.DR} {
		l, ok := readers[r]
		if !ok {
			bad = append(bad, fmt.Sprintf("%s (%s): no Lambda client", fn, r))
			continue
		}
		out, err := l.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(fn)})
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s (%s): %v", fn, r, err))
			continue
		}
		confs = append(confs, out)
	}
	if len(confs) == 2 {
		if diff := configDiff(confs[0], confs[1]); diff != "" {
			bad = append(bad, what+": "+diff)
		}
	}
	return bad
}

// verdict fails res with the problems found, joined, and how to fix them,
// or, when there are none, passes it with ok.
func verdict(res Result, problems []string, fix, ok string) Result {
	if len(problems) > 0 {
		res.Status, res.Detail, res.Fix = Fail, strings.Join(problems, "; "), fix
		return res
	}
	res.Status, res.Detail = Pass, ok
	return res
}

func configDiff(a, b *lambda.GetFunctionConfigurationOutput) string {
	var d []string
	if aws.ToString(a.CodeSha256) != aws.ToString(b.CodeSha256) {
		d = append(d, "code SHA-256 "+aws.ToString(a.CodeSha256)+" ≠ "+aws.ToString(b.CodeSha256))
	}
	if a.Runtime != b.Runtime || aws.ToString(a.Handler) != aws.ToString(b.Handler) {
		d = append(d, "runtime or handler")
	}
	if aws.ToInt32(a.MemorySize) != aws.ToInt32(b.MemorySize) || aws.ToInt32(a.Timeout) != aws.ToInt32(b.Timeout) {
		d = append(d, fmt.Sprintf("memory/timeout %d/%d ≠ %d/%d", aws.ToInt32(a.MemorySize), aws.ToInt32(a.Timeout), aws.ToInt32(b.MemorySize), aws.ToInt32(b.Timeout)))
	}
	env := func(c *lambda.GetFunctionConfigurationOutput) map[string]string {
		if c.Environment == nil {
			return nil
		}
		return c.Environment.Variables
	}
	ea, eb := env(a), env(b)
	keys := map[string]bool{}
	for k := range ea {
		keys[k] = true
	}
	for k := range eb {
		keys[k] = true
	}
	var diffKeys []string
	for k := range keys {
		if !slices.Contains(PerRegionKeys, k) && ea[k] != eb[k] {
			diffKeys = append(diffKeys, k)
		}
	}
	slices.Sort(diffKeys)
	if len(diffKeys) > 0 {
		d = append(d, "environment "+strings.Join(diffKeys, ", "))
	}
	return strings.Join(d, "; ")
}

// lastDrill: a drill ran recently and passed.
func lastDrill(_ context.Context, in Input) Result {
	res := Result{Check: "last drill"}
	maxAge := in.DrillMaxAge
	if maxAge == 0 {
		maxAge = 30 * 24 * time.Hour
	}
	es, err := in.History.List()
	if err != nil {
		res.Status, res.Detail, res.Fix = Warn, err.Error(), "check PILOTLIGHT_REPORTS_DIR"
		return res
	}
	if len(es) == 0 {
		res.Status, res.Detail, res.Fix = Warn, "no drill kept in "+in.History.Dir, "pilotlight drill (a failover you have not rehearsed is a guess)"
		return res
	}
	last := es[len(es)-1]
	age := in.Now().Sub(last.At)
	switch {
	case last.Pass == nil:
		res.Status, res.Detail, res.Fix = Warn, last.ID+": "+last.Detail, "pilotlight drill"
	case !*last.Pass:
		res.Status, res.Detail, res.Fix = Fail, fmt.Sprintf("%s failed: %s", last.ID, last.Detail), "pilotlight report "+last.ID+" says why; fix it, then pilotlight drill"
	case age > maxAge:
		res.Status, res.Detail, res.Fix = Warn, fmt.Sprintf("%s passed, %s ago", last.ID, age.Round(time.Hour)), "pilotlight drill (docs/testing-procedures.md: how often)"
	default:
		res.Status, res.Detail = Pass, fmt.Sprintf("%s passed, %s ago", last.ID, age.Round(time.Second))
	}
	return res
}

// lastBackup: a complete snapshot of the table exists, and is recent.
func lastBackup(ctx context.Context, in Input) Result {
	res := Result{Check: "last backup"}
	maxAge := in.BackupMaxAge
	if maxAge == 0 {
		maxAge = 48 * time.Hour
	}
	c, ok := in.Clients[in.Primary]
	if !ok {
		res.Status, res.Detail = Warn, "no client for "+in.Primary
		return res
	}
	m := backup.ForRegion(c, in.Names)
	snaps, err := m.List(ctx)
	if err != nil {
		res.Status, res.Detail, res.Fix = Warn, err.Error(), "is the backup bucket there? pilotlight backup list"
		return res
	}
	i := slices.IndexFunc(snaps, func(s backup.Snapshot) bool { return !s.Incomplete })
	if i < 0 {
		res.Status, res.Detail, res.Fix = Warn, "no complete snapshot of "+in.Names.Table()+" in "+in.Primary, "pilotlight backup create (the schedule takes one daily on AWS)"
		return res
	}
	age := in.Now().Sub(snaps[i].Created)
	if age > maxAge {
		res.Status, res.Detail, res.Fix = Warn, fmt.Sprintf("%s, %s old", snaps[i].ID, age.Round(time.Hour)), "the daily backup schedule may be failing: pilotlight backup create, and look at the backup manager's logs"
		return res
	}
	res.Status, res.Detail = Pass, fmt.Sprintf("%s, %s old", snaps[i].ID, age.Round(time.Second))
	return res
}
