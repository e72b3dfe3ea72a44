package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/cloudformation"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/deploy/cfn"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/region"
)

func TestMain(m *testing.M) { labtest.Main(m) }

var appSeq atomic.Int64

// rig is a fake CloudFormation in both regions with the lab's real S3
// (versitygw) behind the artifact and data buckets.
type rig struct {
	cloud *fakeCloud
	plan  Plan
	out   *bytes.Buffer
	s3    map[string]*s3.Client
}

func newRig(t *testing.T) *rig {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the lab")
	}
	p, dr := labtest.Clients(t, 0)
	r := &rig{cloud: newFakeCloud(), out: &bytes.Buffer{}, s3: map[string]*s3.Client{p.Name: p.S3, dr.Name: dr.S3}}
	r.plan = Plan{Names: region.Names{App: fmt.Sprintf("dep%d", appSeq.Add(1)), Account: "123456789012"}, Primary: "us-east-1", DR: "us-west-2", Profile: "free"}
	return r
}

func (r *rig) stacks() *Stacks {
	return &Stacks{Client: r.cloud.region, Out: r.out, Now: r.cloud.now, Sleep: func(context.Context, time.Duration) error { return nil }}
}

func (r *rig) deployer() *Deployer {
	var arts []Artifact
	for _, fn := range Functions {
		arts = append(arts, Artifact{Function: fn, Path: fn, SHA256: fmt.Sprintf("%064x", len(fn))})
	}
	return &Deployer{Stacks: r.stacks(), S3: func(reg string) S3 { return r.s3[reg] }, Out: r.out, Artifacts: arts,
		Read: func(p string) ([]byte, error) { return []byte("zip of " + p), nil }}
}

func TestDeployOrderAndOutputs(t *testing.T) {
	r := newRig(t)
	r.plan.HostedZoneID, r.plan.RecordName = "Z123", "orders.example.com"
	ctx := context.Background()
	dep := r.deployer()
	var backups []string
	dep.FirstBackup = func(_ context.Context, reg string) error {
		// The primary stack (and so the backup manager) exists by then.
		if _, ok := r.cloud.stacks[reg+"/"+r.plan.Names.App+"-primary"]; !ok {
			t.Errorf("first backup started in %s before the primary stack exists", reg)
		}
		backups = append(backups, reg)
		return nil
	}
	out, err := dep.Deploy(ctx, r.plan)
	if err != nil {
		t.Fatalf("%v\n%s", err, r.out)
	}
	// The backups-missing alarm has a datapoint on day one.
	if strings.Join(backups, ",") != "us-east-1" {
		t.Fatalf("first backups started in %v, want the primary once", backups)
	}
	app := r.plan.Names.App
	want := []string{
		"change-set us-west-2 " + app + "-dr CREATE",
		"change-set us-east-1 " + app + "-primary CREATE",
		"change-set us-west-2 " + app + "-dr UPDATE",
		"change-set us-east-1 " + app + "-global CREATE",
	}
	if got := r.cloud.callsMatching("change-set"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("change sets:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Outputs flow: the primary learned the DR URL, the DR stack the primary's.
	p := r.cloud.stacks["us-east-1/"+app+"-primary"].params
	d := r.cloud.stacks["us-west-2/"+app+"-dr"].params
	g := r.cloud.stacks["us-east-1/"+app+"-global"].params
	if p["DRAppUrl"] != out.AppURLs["us-west-2"] || d["PrimaryAppUrl"] != out.AppURLs["us-east-1"] || out.AppURLs["us-east-1"] == "" {
		t.Fatalf("urls: primary got %q, dr got %q, outcome %v", p["DRAppUrl"], d["PrimaryAppUrl"], out.AppURLs)
	}
	if g["PrimaryAppHost"] != app+"-primary.us-east-1.example" || g["PrimaryHealthHost"] != app+"-primary-health.us-east-1.example" {
		t.Fatalf("global params: %v", g)
	}
	// Route 53: the primary gets a health-only URL for its checkers, and
	// the DR controller reads the failover record as a second opinion.
	if p["PublicHealthUrl"] != "true" || d["RoutingRecord"] != "orders.example.com" {
		t.Fatalf("route 53 params: primary PublicHealthUrl %q, DR RoutingRecord %q", p["PublicHealthUrl"], d["RoutingRecord"])
	}
	// Every parameter deploy passes is declared by its template, and every
	// parameter without a default is passed.
	for _, st := range r.plan.Stacks() {
		tpl, err := cfn.Parse(st.Name, st.Template)
		if err != nil {
			t.Fatal(err)
		}
		given := r.cloud.stacks[st.Region+"/"+st.Name].params
		for k := range given {
			if _, ok := tpl.Parameters[k]; !ok {
				t.Errorf("%s: deploy passes %s, which the template does not declare", st.Name, k)
			}
		}
		for k, def := range tpl.Parameters {
			if _, ok := def["Default"]; !ok && given[k] == "" {
				t.Errorf("%s: parameter %s has no default and deploy does not pass it", st.Name, k)
			}
		}
	}
	// The zips are in both artifact buckets, content-addressed.
	for _, reg := range []string{"us-east-1", "us-west-2"} {
		key := d["AppCodeKey"]
		obj, err := r.s3[reg].GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.plan.ArtifactBucket(reg)), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("%s: artifact %s: %v", reg, key, err)
		}
		obj.Body.Close()
	}
	// Stack events were shown.
	if !strings.Contains(r.out.String(), "CREATE_COMPLETE") || !strings.Contains(r.out.String(), "User Initiated") {
		t.Fatalf("no stack events in the output:\n%s", r.out)
	}

	// A second deploy with nothing changed is success: every change set
	// says "no changes" and is deleted.
	r.out.Reset()
	out2, err := r.deployer().Deploy(ctx, r.plan)
	if err != nil {
		t.Fatalf("redeploy: %v\n%s", err, r.out)
	}
	for _, s := range out2.Stacks {
		if !s.NoChanges {
			t.Errorf("redeploy changed %s", s.Name)
		}
	}
	if n := len(r.cloud.callsMatching("delete-change-set")); n != 4 {
		t.Fatalf("%d empty change sets deleted, want 4 (DR, primary, DR, global)", n)
	}
	if out2.AppURLs["us-east-1"] != out.AppURLs["us-east-1"] {
		t.Fatalf("outputs lost on a no-change deploy: %v", out2.AppURLs)
	}
}

func TestDeployReportsTheFailingResource(t *testing.T) {
	r := newRig(t)
	r.cloud.failCreate[r.plan.Names.Stack("primary")] = "OrdersTable"
	_, err := r.deployer().Deploy(context.Background(), r.plan)
	var se *StackError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v\n%s", err, r.out)
	}
	if se.Resource != "OrdersTable" || se.Status != "ROLLBACK_COMPLETE" || !strings.Contains(se.Reason, "Table already exists") {
		t.Fatalf("stack error: %+v", se)
	}
	if !strings.Contains(err.Error(), "OrdersTable (AWS::DynamoDB::GlobalTable) failed: Resource handler returned message") {
		t.Fatalf("message: %v", err)
	}
	// Nothing after the failed stack was attempted.
	if n := len(r.cloud.callsMatching("change-set")); n != 2 {
		t.Fatalf("%d change sets, want 2 (DR, then the failed primary)", n)
	}

	// The next deploy finds the primary in ROLLBACK_COMPLETE, deletes it
	// and creates it again.
	delete(r.cloud.failCreate, r.plan.Names.Stack("primary"))
	r.out.Reset()
	if _, err := r.deployer().Deploy(context.Background(), r.plan); err != nil {
		t.Fatalf("deploy after a failed create: %v\n%s", err, r.out)
	}
	if !strings.Contains(r.out.String(), "ROLLBACK_COMPLETE from a failed first create") || len(r.cloud.callsMatching("delete-stack us-east-1")) != 1 {
		t.Fatalf("did not start over:\n%s", r.out)
	}
}

// An interrupted deploy leaves a stack in progress: the next one waits for
// it, then goes on.
func TestDeployWaitsForAnInterruptedUpdate(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if _, err := r.deployer().Deploy(ctx, r.plan); err != nil {
		t.Fatal(err)
	}
	s := r.cloud.stacks["us-west-2/"+r.plan.Names.Stack("dr")]
	s.status, s.next, s.polls = "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE", 3
	r.out.Reset()
	if _, err := r.deployer().Deploy(ctx, r.plan); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.out.String(), "is UPDATE_IN_PROGRESS, left by an earlier run: waiting") {
		t.Fatalf("output:\n%s", r.out)
	}

	// A stack whose first change set was never executed (REVIEW_IN_PROGRESS)
	// is created, not waited for.
	d := r.cloud.stacks["us-west-2/"+r.plan.Names.Stack("dr")]
	d.status, d.template, d.polls = "REVIEW_IN_PROGRESS", "", 0
	r.out.Reset()
	if _, err := r.deployer().Deploy(ctx, r.plan); err != nil {
		t.Fatalf("deploy over REVIEW_IN_PROGRESS: %v\n%s", err, r.out)
	}
	if got := r.cloud.callsMatching("change-set us-west-2"); got[len(got)-2] != "change-set us-west-2 "+r.plan.Names.Stack("dr")+" CREATE" {
		t.Fatalf("change sets: %v", got)
	}

	// A cancelled context stops a deploy promptly, with the context's error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.deployer().Deploy(cctx, r.plan); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled deploy: %v", err)
	}
}

func TestPlanErrors(t *testing.T) {
	base := Plan{Names: region.Names{App: "pl", Account: "1"}, Primary: "us-east-1", DR: "us-west-2", Profile: "free"}
	cases := map[string]func(*Plan){
		"must be a different region": func(p *Plan) { p.DR = p.Primary },
		"fast (10-second alarms":     func(p *Plan) { p.Profile = "turbo" },
		"needs a record name":        func(p *Plan) { p.HostedZoneID = "Z1" },
		"no account ID":              func(p *Plan) { p.Names.Account = "" },
	}
	for want, change := range cases {
		p := base
		change(&p)
		if err := p.Check(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
	// Route 53 probes the health-only URL, not the high-resolution alarm:
	// the fast profile works with a hosted zone.
	fastZone := base
	fastZone.Profile, fastZone.HostedZoneID, fastZone.RecordName = "fast", "Z1", "orders.example.com"
	if err := fastZone.Check(); err != nil {
		t.Errorf("fast profile with a hosted zone: %v", err)
	}
}

func TestCleanupEmptiesBucketsAndDeletesInReverse(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.plan.HostedZoneID, r.plan.RecordName = "Z123", "orders.example.com"
	if _, err := r.deployer().Deploy(ctx, r.plan); err != nil {
		t.Fatal(err)
	}
	// The stacks' buckets, as CloudFormation would have made them, full of
	// versions and delete markers (1,210 in one bucket: more than one page of 1,000).
	for _, reg := range []string{"us-east-1", "us-west-2"} {
		for _, b := range []string{r.plan.Names.Bucket(reg), r.plan.Names.BackupBucket(reg)} {
			mkVersioned(t, r.s3[reg], b)
		}
	}
	fill(t, r.s3["us-east-1"], r.plan.Names.Bucket("us-east-1"), 550)
	fill(t, r.s3["us-west-2"], r.plan.Names.BackupBucket("us-west-2"), 30)

	app := r.plan.Names.App
	c := &Cleaner{Stacks: r.stacks(), S3: func(reg string) S3 { return r.s3[reg] }, Out: r.out,
		Rules: func(reg string) Rules {
			return fakeRules{f: r.cloud, region: reg, missing: map[string]bool{app + "-datavalidator": true}}
		}}
	steps, err := c.Steps(ctx, r.plan)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if !s.Exists {
			t.Errorf("dry run: %s should exist", s)
		}
	}
	rep, err := c.Run(ctx, r.plan)
	if err != nil {
		t.Fatalf("%v\n%s", err, r.out)
	}
	// The schedules went off first (a missing one skipped), before any
	// bucket was emptied: canary and snapshot writers stopped.
	if got := r.cloud.callsMatching("disable-rule"); len(got) != 6 || !strings.Contains(strings.Join(got, ","), "disable-rule us-east-1 "+app+"-healthcheck") {
		t.Fatalf("schedules turned off: %v", got)
	}
	if out := r.out.String(); strings.Index(out, "turned off schedule") > strings.Index(out, "emptied") {
		t.Fatalf("a bucket was emptied before the schedules were off:\n%s", out)
	}
	want := []string{"delete-stack us-east-1 " + app + "-global", "delete-stack us-east-1 " + app + "-primary", "delete-stack us-west-2 " + app + "-dr"}
	if got := r.cloud.callsMatching("delete-stack"); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("deletes %v, want %v", got, want)
	}
	for _, reg := range []string{"us-east-1", "us-west-2"} {
		for _, b := range []string{r.plan.Names.Bucket(reg), r.plan.Names.BackupBucket(reg)} {
			v, err := r.s3[reg].ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(b)})
			if err != nil || len(v.Versions)+len(v.DeleteMarkers) != 0 {
				t.Fatalf("%s still holds %d versions and %d markers (%v)", b, len(v.Versions), len(v.DeleteMarkers), err)
			}
		}
		if _, err := r.s3[reg].HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(r.plan.ArtifactBucket(reg))}); err == nil {
			t.Fatalf("artifact bucket in %s not deleted", reg)
		}
	}
	// The stacks' buckets are gone with their stacks on AWS; here the fake
	// stacks cannot delete them, so they are reported as left behind.
	if len(rep.Left) != 4 || !strings.Contains(strings.Join(rep.Left, ","), "bucket "+r.plan.Names.Bucket("us-east-1")) {
		t.Fatalf("left: %v", rep.Left)
	}
	if !strings.Contains(r.out.String(), "1210 versions and delete markers removed") {
		t.Fatalf("output:\n%s", r.out)
	}
}

func TestCleanupReportsWhatIsLeft(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if _, err := r.deployer().Deploy(ctx, r.plan); err != nil {
		t.Fatal(err)
	}
	r.cloud.failDelete[r.plan.Names.Stack("primary")] = "DataBucket"
	c := &Cleaner{Stacks: r.stacks(), S3: func(reg string) S3 { return r.s3[reg] }, Out: r.out}
	rep, err := c.Run(ctx, r.plan)
	var se *StackError
	if !errors.As(err, &se) || se.Resource != "DataBucket" || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("err = %v", err)
	}
	// It went on with the DR region and the artifact buckets anyway.
	if len(r.cloud.callsMatching("delete-stack us-west-2")) != 1 {
		t.Fatal("DR stack not deleted after the primary failed")
	}
	if rep == nil || len(rep.Left) != 1 || rep.Left[0] != "stack "+r.plan.Names.Stack("primary")+" (us-east-1)" {
		t.Fatalf("left: %+v", rep)
	}
}

func mkVersioned(t *testing.T, c *s3.Client, bucket string) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
}

// fill writes n keys twice each and deletes every fifth: 2n versions and
// n/5 delete markers.
func fill(t *testing.T, c *s3.Client, bucket string, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		for v := range 2 {
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("orders/%05d.json", i)), Body: strings.NewReader(fmt.Sprint(v))}); err != nil {
				t.Fatal(err)
			}
		}
		if i%5 == 0 {
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("orders/%05d.json", i))}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// With a witness, deploy puts the witness stack first, tells both
// application stacks where it is, and writes the first active record (the
// primary at epoch 1) in every region's control table — DynamoDB Local's
// here — without ever moving an existing one on a redeploy.
func TestDeployWithWitnessWritesTheFirstControlRecords(t *testing.T) {
	r := newRig(t)
	names := labtest.Provision(t, "wit")
	p, dr := labtest.Clients(t, 0)
	clients := map[string]*region.Clients{"us-east-1": p, "us-west-2": dr, "us-east-2": labtest.Witness(t, 0)}
	ctx := context.Background()
	// A fresh deployment: tables, no records.
	for _, c := range clients {
		if _, err := c.DynamoDB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(names.ControlTable()),
			Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "active"}, "sk": &ddbtypes.AttributeValueMemberS{Value: "active"}}}); err != nil {
			t.Fatal(err)
		}
	}
	r.plan.Names.App, r.plan.Witness = names.App, "us-east-2"
	d := r.deployer()
	d.Control = func(reg string) ControlInit { return control.New(clients[reg], names) }
	if _, err := d.Deploy(ctx, r.plan); err != nil {
		t.Fatalf("%v\n%s", err, r.out)
	}
	app := names.App
	if got := r.cloud.callsMatching("change-set"); len(got) == 0 || got[0] != "change-set us-east-2 "+app+"-witness CREATE" {
		t.Fatalf("change sets %v: want the witness stack first", got)
	}
	for _, k := range []string{"us-east-1/" + app + "-primary", "us-west-2/" + app + "-dr"} {
		if w := r.cloud.stacks[k].params["WitnessRegion"]; w != "us-east-2" {
			t.Errorf("%s: WitnessRegion %q, want us-east-2", k, w)
		}
	}
	for reg, c := range clients {
		a, err := control.New(c, names).Active(ctx)
		if err != nil || a.Region != "us-east-1" || a.Epoch != 1 {
			t.Fatalf("%s: control record %+v, %v; want us-east-1 at epoch 1", reg, a, err)
		}
	}
	// After a failover, a redeploy leaves the records alone.
	for _, c := range clients {
		if err := control.New(c, names).CompareAndSet(ctx, 1, record.Active{Region: "us-west-2", Epoch: 2, Since: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Deploy(ctx, r.plan); err != nil {
		t.Fatalf("redeploy: %v\n%s", err, r.out)
	}
	for reg, c := range clients {
		if a, err := control.New(c, names).Active(ctx); err != nil || a.Region != "us-west-2" || a.Epoch != 2 {
			t.Fatalf("%s after a redeploy: %+v, %v; a redeploy must not move the active region", reg, a, err)
		}
	}
	// Two-region mode says so in the templates' parameter.
	r2 := newRig(t)
	if _, err := r2.deployer().Deploy(ctx, r2.plan); err != nil {
		t.Fatal(err)
	}
	if w := r2.cloud.stacks["us-west-2/"+r2.plan.Names.App+"-dr"].params["WitnessRegion"]; w != "none" {
		t.Fatalf("without a witness: WitnessRegion %q, want none", w)
	}
}

// The witness stack keeps its control table when cleanup deletes it
// (epochs must never go back), under a fixed name: a deploy after cleanup
// must import the table, not fail creating it. The table is real (the
// lab's witness DynamoDB); CloudFormation is the fake, which fails a create
// on a taken name and enforces an import's rules (no outputs added).
func TestDeployAfterCleanupImportsTheKeptWitnessTable(t *testing.T) {
	r := newRig(t)
	names := labtest.Provision(t, "kept")
	w := labtest.Witness(t, 0)
	ctx := context.Background()
	r.plan.Names.App, r.plan.Witness = names.App, "us-east-2"
	exists := func(ctx context.Context, reg, table string) (bool, error) {
		if reg != "us-east-2" {
			return false, fmt.Errorf("asked %s for the witness table", reg)
		}
		_, err := w.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		var nf *ddbtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return false, nil
		}
		return err == nil, err
	}
	r.cloud.tableExists = func(reg, table string) bool { ok, _ := exists(ctx, reg, table); return ok }

	// Without adoption (as before): the create fails on the kept table.
	_, err := r.deployer().Deploy(ctx, r.plan)
	var se *StackError
	if !errors.As(err, &se) || se.Resource != "ControlTable" {
		t.Fatalf("deploy over a kept witness table without import: %v; want the ControlTable failure", err)
	}
	d := r.deployer()
	d.TableExists = exists
	if _, err := d.Deploy(ctx, r.plan); err != nil {
		t.Fatalf("deploy after cleanup: %v\n%s", err, r.out)
	}
	app := names.App
	// The failed first attempt's CREATE; the re-run's IMPORT change set
	// naming the table; the UPDATE to the whole template.
	want := []string{"change-set us-east-2 " + app + "-witness CREATE", "change-set us-east-2 " + app + "-witness IMPORT",
		"import us-east-2 " + app + "-witness ControlTable=" + names.ControlTable(), "change-set us-east-2 " + app + "-witness UPDATE"}
	var got []string
	for _, c := range r.cloud.calls {
		if strings.Contains(c, app+"-witness") && (strings.HasPrefix(c, "import") || strings.HasPrefix(c, "change-set")) {
			got = append(got, c)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("witness change sets:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	st := r.cloud.stacks["us-east-2/"+app+"-witness"]
	if st.status != cfntypes.StackStatusUpdateComplete || !strings.Contains(st.template, "\nOutputs:") {
		t.Fatalf("witness stack %s; its template has its outputs: %v", st.status, strings.Contains(st.template, "\nOutputs:"))
	}
	// A fresh account (no kept table) still creates.
	r2 := newRig(t)
	r2.plan.Witness = "us-east-2"
	d2 := r2.deployer()
	d2.TableExists = exists
	if _, err := d2.Deploy(ctx, r2.plan); err != nil {
		t.Fatal(err)
	}
	if got := r2.cloud.callsMatching("change-set us-east-2"); len(got) != 1 || !strings.HasSuffix(got[0], "CREATE") {
		t.Fatalf("fresh witness: %v, want one CREATE", got)
	}
}

func TestWithoutOutputs(t *testing.T) {
	body := string(withoutOutputs(cloudformation.Witness))
	if strings.Contains(body, "Outputs:") || !strings.Contains(body, "ControlTable:") || !strings.Contains(body, "DeletionPolicy: Retain") {
		t.Fatalf("import template:\n%s", body)
	}
	if _, err := cfn.Parse("witness-import", []byte(body)); err != nil {
		t.Fatal(err)
	}
}
