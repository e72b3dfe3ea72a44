package deploy

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/cloudformation"
	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/monitoring"
)

// Plan is what a deploy sets up.
type Plan struct {
	Names       region.Names // App and Account (bucket names are global)
	Primary, DR string
	// Witness holds the third control record (its own stack, deployed
	// first); "" or "none": two-region mode, split-brain protection best
	// effort.
	Witness string
	Profile string // free or fast
	// FailoverMode: auto (the alarm fails over) or manual (it notifies; a
	// person runs pilotlight failover). "" is auto.
	FailoverMode string
	// RPOObjective: replication lag beyond it alarms (0: 1 minute).
	RPOObjective     time.Duration
	NotificationMail string
	HostedZoneID     string // empty: no Route 53 stack
	RecordName       string
	RTC              bool // S3 Replication Time Control
}

// DRParameters are the DR stack's parameters: keys are the functions' code
// keys in the artifact bucket, primaryURL the primary's orders service URL
// ("" before the primary stack exists). The lab resolves the same
// templates with the same parameters.
func (p Plan) DRParameters(keys map[string]string, primaryURL string) map[string]string {
	params := map[string]string{
		"AppName": p.Names.App, "PrimaryRegion": p.Primary, "ArtifactBucket": p.ArtifactBucket(p.DR),
		"AppCodeKey": keys[region.FnApp], "HealthCheckCodeKey": keys[region.FnHealth], "FailoverControllerCodeKey": keys[region.FnController],
		"DataValidatorCodeKey": keys[region.FnValidator], "BackupManagerCodeKey": keys[region.FnBackup],
		"DetectionProfile": p.Profile, "NotificationEmail": p.NotificationMail, "WitnessRegion": p.witnessParam(),
		"FailoverMode": cmp.Or(p.FailoverMode, "auto"), "RPOObjectiveMs": fmt.Sprint(cmp.Or(p.RPOObjective, time.Minute).Milliseconds()),
		"DashboardBody": compactJSON(monitoring.Dashboard(map[string]string{
			"Region": p.DR, "PrimaryRegion": p.Primary, "Table": p.Names.Table(), "AccountId": p.Names.Account, "AlarmName": p.Names.PrimaryAlarm(),
		})),
	}
	params["PrimaryAppUrl"] = primaryURL
	// With Route 53, the controller also reads the failover record.
	params["RoutingRecord"] = ""
	if p.HostedZoneID != "" {
		params["RoutingRecord"] = p.RecordName
	}
	return params
}

// PrimaryParameters are the primary stack's parameters; drURL is the DR
// region's orders service URL.
func (p Plan) PrimaryParameters(keys map[string]string, drURL string) map[string]string {
	return map[string]string{
		"AppName": p.Names.App, "DRRegion": p.DR, "ArtifactBucket": p.ArtifactBucket(p.Primary),
		"AppCodeKey": keys[region.FnApp], "HealthCheckCodeKey": keys[region.FnHealth], "BackupManagerCodeKey": keys[region.FnBackup],
		"DRAppUrl": drURL, "ReplicationTimeControl": fmt.Sprint(p.RTC), "WitnessRegion": p.witnessParam(),
		"DetectionProfile": p.Profile, "NotificationEmail": p.NotificationMail,
		// Route 53's checkers probe a health-only URL of the primary's.
		"PublicHealthUrl": fmt.Sprint(p.HostedZoneID != ""),
	}
}

// Check names what is wrong with a plan.
func (p Plan) Check() error {
	switch {
	case p.Names.App == "":
		return errors.New("deploy: no app name (PILOTLIGHT_APP_NAME)")
	case p.Names.Account == "":
		return errors.New("deploy: no account ID: pilotlight reads it from STS with your credentials")
	case p.Primary == "" || p.DR == "":
		return errors.New("deploy: both regions are needed (PILOTLIGHT_PRIMARY_REGION, PILOTLIGHT_DR_REGION)")
	case p.Primary == p.DR:
		return fmt.Errorf("deploy: the primary and DR regions are both %s: the DR region must be a different region", p.Primary)
	case p.HasWitness() && (p.Witness == p.Primary || p.Witness == p.DR):
		return fmt.Errorf("deploy: the witness region %s is one of the two application regions: name a third region (--witness), or none", p.Witness)
	case slices.Contains(NoFunctionURLs, p.Primary) || slices.Contains(NoFunctionURLs, p.DR):
		r := p.Primary
		if !slices.Contains(NoFunctionURLs, r) {
			r = p.DR
		}
		return fmt.Errorf("deploy: %s has no Lambda function URLs (AWS::Lambda::Url), which the orders service and the health checks are reached by: choose another primary or DR region (the witness may be any region)", r)
	case p.Profile != "free" && p.Profile != "fast":
		return fmt.Errorf("deploy: detection profile %q: use free (1-minute alarms) or fast (10-second alarms, about $1.70 a month more)", p.Profile)
	case p.HostedZoneID != "" && p.RecordName == "":
		return errors.New("deploy: a hosted zone needs a record name (--record orders.example.com)")
	}
	return nil
}

// NoFunctionURLs are the regions without Lambda function URLs
// (AWS::Lambda::Url), as cfn-lint 1.51's resource schemas know them (rule
// E3006): deploy refuses them for the primary and the DR region.
// TestTemplatesLintInEveryAcceptedRegion holds the list to cfn-lint's.
var NoFunctionURLs = []string{
	"ap-east-2", "ap-south-2", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
	"ca-west-1", "eu-central-2", "eu-south-2", "il-central-1", "me-central-1", "mx-central-1",
}

// Alarms are the DR stack's alarms: the primary's health (it drives the
// failover), replication lag and divergence (they notify).
func (p Plan) Alarms() []string {
	return []string{p.Names.PrimaryAlarm(), p.Names.ReplicationLagAlarm(), p.Names.DivergenceAlarm()}
}

// HasWitness reports whether the plan deploys a witness region.
func (p Plan) HasWitness() bool { return p.Witness != "" && p.Witness != "none" }

// witnessParam is the templates' WitnessRegion parameter.
func (p Plan) witnessParam() string {
	if p.HasWitness() {
		return p.Witness
	}
	return "none"
}

// ArtifactBucket is where a region's function zips go.
func (p Plan) ArtifactBucket(r string) string {
	return fmt.Sprintf("%s-artifacts-%s-%s", p.Names.App, p.Names.Account, r)
}

// Stacks lists the stacks in deploy order (cleanup goes in reverse).
func (p Plan) Stacks() []Stack {
	var out []Stack
	if p.HasWitness() {
		out = append(out, Stack{Kind: "witness", Region: p.Witness, Name: p.Names.Stack("witness"), Template: cloudformation.Witness})
	}
	out = append(out,
		Stack{Kind: "dr", Region: p.DR, Name: p.Names.Stack("dr"), Template: cloudformation.DR},
		Stack{Kind: "primary", Region: p.Primary, Name: p.Names.Stack("primary"), Template: cloudformation.Primary},
	)
	if p.HostedZoneID != "" {
		out = append(out, Stack{Kind: "global", Region: p.Primary, Name: p.Names.Stack("global"), Template: cloudformation.Global})
	}
	return out
}

// S3 is the part of the S3 API deploy and cleanup use.
type S3 interface {
	HeadBucket(context.Context, *s3.HeadBucketInput, ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	CreateBucket(context.Context, *s3.CreateBucketInput, ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
	PutPublicAccessBlock(context.Context, *s3.PutPublicAccessBlockInput, ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error)
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	ListObjectVersions(context.Context, *s3.ListObjectVersionsInput, ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
	DeleteObjects(context.Context, *s3.DeleteObjectsInput, ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
	DeleteBucket(context.Context, *s3.DeleteBucketInput, ...func(*s3.Options)) (*s3.DeleteBucketOutput, error)
}

// Deployer runs a plan.
type Deployer struct {
	Stacks *Stacks
	S3     func(region string) S3
	Out    io.Writer
	// Artifacts are the packaged functions (Package), zipped reproducibly.
	Artifacts []Artifact
	// Read returns an artifact's bytes (os.ReadFile; tests substitute).
	Read func(path string) ([]byte, error)
	// Control returns the control table of a region, to write the first
	// active record once its stack exists (nil: not written, tests only).
	Control func(region string) ControlInit
	// FirstBackup starts the backup manager's scheduled run (snapshot,
	// prune, restore test) in region once the primary stack exists, so the
	// backups-missing alarm has its first datapoint on day one instead of
	// firing on a fresh deploy (nil: not started, tests only).
	FirstBackup func(ctx context.Context, region string) error
	// TableExists reports whether a DynamoDB table exists in a region. The
	// witness stack keeps its control table when deleted (epochs must never
	// go back): a deploy after cleanup imports it instead of failing on its
	// name (nil: never imported, tests only).
	TableExists func(ctx context.Context, region, table string) (bool, error)
}

// ControlInit writes a region's first active record unless it has one
// (control.Store). Without it every reader of a fresh deployment finds
// "no record": the orders service refuses, the controller cannot act.
type ControlInit interface {
	Init(ctx context.Context, a record.Active) (record.Active, error)
}

// initControl writes the first active record — the primary at epoch 1 —
// in region r's control table; an existing record is left as it is (a
// redeploy never moves the active region).
func (d *Deployer) initControl(ctx context.Context, p Plan, r string) error {
	if d.Control == nil {
		return nil
	}
	a, err := d.Control(r).Init(ctx, record.Active{Region: p.Primary, Epoch: 1, Since: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("deploy: first control record in %s: %w", r, err)
	}
	fmt.Fprintf(d.Out, "   control record in %s: %s active at epoch %d\n", r, a.Region, a.Epoch)
	return nil
}

// Outcome is a finished deploy.
type Outcome struct {
	Stacks  []*StackResult
	AppURLs map[string]string
}

// artifactKey names a zip by content, so a changed function changes the
// template parameter and CloudFormation updates the function.
func artifactKey(a Artifact) string { return "functions/" + a.Function + "-" + a.SHA256[:16] + ".zip" }

// Deploy uploads the functions to an artifact bucket per region (created
// or reused), then deploys DR → primary → DR again (now knowing the
// primary's URL; usually no changes) → global, each through a change set.
func (d *Deployer) Deploy(ctx context.Context, p Plan) (*Outcome, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	keys, err := d.uploadArtifacts(ctx, p)
	if err != nil {
		return nil, err
	}
	stacks := p.Stacks()
	out := &Outcome{AppURLs: map[string]string{}}
	if p.HasWitness() {
		if err := d.deployWitness(ctx, p, stacks[0], out); err != nil {
			return nil, err
		}
		stacks = stacks[1:]
	}
	dr := stacks[0]
	drParams := p.DRParameters(keys, "")
	// An existing primary stack's URL goes to the DR stack at once, so a
	// redeploy does not take it away and give it back.
	prim, err := d.Stacks.Outputs(ctx, stacks[1])
	if err != nil {
		return nil, err
	}
	drParams["PrimaryAppUrl"] = prim["AppUrl"]
	fmt.Fprintf(d.Out, "\n== %s in %s (DR region, first)\n", dr.Name, dr.Region)
	dr.Parameters = drParams
	res, err := d.Stacks.Deploy(ctx, dr)
	if err != nil {
		return nil, err
	}
	out.Stacks = append(out.Stacks, res)
	out.AppURLs[p.DR] = res.Outputs["AppUrl"]
	if err := d.initControl(ctx, p, p.DR); err != nil {
		return nil, err
	}
	healthURL, err := d.deployPrimary(ctx, p, stacks[1], keys, out)
	if err != nil {
		return nil, err
	}
	drParams["PrimaryAppUrl"] = out.AppURLs[p.Primary]
	fmt.Fprintf(d.Out, "\n== %s in %s (DR region, with the primary's URL)\n", dr.Name, dr.Region)
	if res, err = d.Stacks.Deploy(ctx, dr); err != nil {
		return nil, err
	}
	out.Stacks = append(out.Stacks, res)
	if len(stacks) > 2 {
		if err := d.deployRouting(ctx, p, stacks[2], stacks[1].Name, healthURL, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// uploadArtifacts puts every function's package in both regions' artifact
// buckets (made or reused) and returns their keys by function.
func (d *Deployer) uploadArtifacts(ctx context.Context, p Plan) (map[string]string, error) {
	keys := map[string]string{}
	for _, r := range []string{p.DR, p.Primary} {
		if err := d.ensureArtifactBucket(ctx, r, p.ArtifactBucket(r)); err != nil {
			return nil, err
		}
		for _, a := range d.Artifacts {
			key := artifactKey(a)
			keys[a.Function] = key
			if err := d.upload(ctx, r, p.ArtifactBucket(r), key, a); err != nil {
				return nil, err
			}
		}
	}
	for _, fn := range Functions {
		if keys[fn] == "" {
			return nil, fmt.Errorf("deploy: function %s was not packaged", fn)
		}
	}
	return keys, nil
}

// deployWitness deploys the witness region's stack (its control table, a
// kept one imported) and writes its control record.
func (d *Deployer) deployWitness(ctx context.Context, p Plan, w Stack, out *Outcome) error {
	w.Parameters = map[string]string{"AppName": p.Names.App}
	if d.TableExists != nil {
		table := p.Names.ControlTable()
		w.Adopt = []Adoption{{LogicalID: "ControlTable", Type: "AWS::DynamoDB::Table", Identifier: map[string]string{"TableName": table},
			Exists: func(ctx context.Context) (bool, error) { return d.TableExists(ctx, p.Witness, table) }}}
	}
	fmt.Fprintf(d.Out, "\n== %s in %s (witness region: the third control record)\n", w.Name, w.Region)
	res, err := d.Stacks.Deploy(ctx, w)
	if err != nil {
		return err
	}
	out.Stacks = append(out.Stacks, res)
	return d.initControl(ctx, p, p.Witness)
}

// deployPrimary deploys the primary's stack with the DR region's URL,
// writes its control record, starts the first backup, and returns its
// health URL.
func (d *Deployer) deployPrimary(ctx context.Context, p Plan, primary Stack, keys map[string]string, out *Outcome) (string, error) {
	primary.Parameters = p.PrimaryParameters(keys, out.AppURLs[p.DR])
	fmt.Fprintf(d.Out, "\n== %s in %s (primary region)\n", primary.Name, primary.Region)
	res, err := d.Stacks.Deploy(ctx, primary)
	if err != nil {
		return "", err
	}
	out.Stacks = append(out.Stacks, res)
	out.AppURLs[p.Primary] = res.Outputs["AppUrl"]
	if err := d.initControl(ctx, p, p.Primary); err != nil {
		return "", err
	}
	if d.FirstBackup != nil {
		if err := d.FirstBackup(ctx, p.Primary); err != nil {
			return "", fmt.Errorf("deploy: start the first backup in %s: %w", p.Primary, err)
		}
		fmt.Fprintf(d.Out, "   first backup started in %s (snapshot, prune, restore test)\n", p.Primary)
	}
	return res.Outputs["HealthUrl"], nil
}

// deployRouting deploys the Route 53 stack: the failover records over both
// regions' URLs, checked by the primary's public health URL.
func (d *Deployer) deployRouting(ctx context.Context, p Plan, g Stack, primaryStack, healthURL string, out *Outcome) error {
	g.Parameters = map[string]string{
		"AppName": p.Names.App, "HostedZoneId": p.HostedZoneID, "RecordName": p.RecordName,
		"PrimaryRegion": p.Primary, "DRRegion": p.DR,
		"PrimaryAppHost": host(out.AppURLs[p.Primary]), "DRAppHost": host(out.AppURLs[p.DR]),
		"PrimaryHealthHost": host(healthURL),
	}
	if healthURL == "" {
		return fmt.Errorf("deploy: the primary stack %s has no HealthUrl output: it must be deployed with PublicHealthUrl=true for Route 53", primaryStack)
	}
	fmt.Fprintf(d.Out, "\n== %s in %s (Route 53)\n", g.Name, g.Region)
	res, err := d.Stacks.Deploy(ctx, g)
	if err != nil {
		return err
	}
	out.Stacks = append(out.Stacks, res)
	return nil
}

func host(u string) string {
	if pu, err := url.Parse(u); err == nil && pu.Host != "" {
		return pu.Host
	}
	return u
}

func compactJSON(s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return s
	}
	return b.String()
}

func (d *Deployer) ensureArtifactBucket(ctx context.Context, r, bucket string) error {
	c := d.S3(r)
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err == nil {
		return nil
	}
	switch err := region.CreateBucket(ctx, c, bucket, r); {
	case errors.Is(err, region.ErrBucketTaken):
		return fmt.Errorf("artifact bucket %s belongs to another account: choose another PILOTLIGHT_APP_NAME", bucket)
	case err != nil:
		return fmt.Errorf("create artifact bucket %s in %s: %w", bucket, r, err)
	}
	fmt.Fprintf(d.Out, "created artifact bucket %s in %s\n", bucket, r)
	_, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(bucket), PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
		BlockPublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}})
	if err != nil && !strings.Contains(err.Error(), "NotImplemented") {
		return fmt.Errorf("block public access on %s: %w", bucket, err)
	}
	return nil
}

func (d *Deployer) upload(ctx context.Context, r, bucket, key string, a Artifact) error {
	c := d.S3(r)
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err == nil {
		return nil // content-addressed: already there
	}
	body, err := d.Read(a.Path)
	if err != nil {
		return err
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		return fmt.Errorf("upload %s to s3://%s/%s: %w", a.Function, bucket, key, err)
	}
	fmt.Fprintf(d.Out, "uploaded %s (%d bytes) to s3://%s/%s\n", a.Function, len(body), bucket, key)
	return nil
}
