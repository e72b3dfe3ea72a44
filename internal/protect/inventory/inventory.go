package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Selector says which resources of the region are the application's: all
// that match every filter set.
type Selector struct {
	Prefix string            // name prefix
	Tags   map[string]string // tags every resource must carry
	Names  []string          // an explicit list of names
}

// String says what the selector picks: its prefix, tags and names.
func (s Selector) String() string {
	var parts []string
	if s.Prefix != "" {
		parts = append(parts, "prefix "+s.Prefix)
	}
	keys := make([]string, 0, len(s.Tags))
	for k := range s.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, "tag "+k+"="+s.Tags[k])
	}
	if len(s.Names) > 0 {
		parts = append(parts, "names "+strings.Join(s.Names, ", "))
	}
	return strings.Join(parts, ", ")
}

func (s Selector) empty() bool { return s.Prefix == "" && len(s.Tags) == 0 && len(s.Names) == 0 }

// named reports whether name passes the name filters (tags are checked
// once a resource's tags are read).
func (s Selector) named(name string) bool {
	if s.Prefix != "" && !strings.HasPrefix(name, s.Prefix) {
		return false
	}
	return len(s.Names) == 0 || slices.Contains(s.Names, name)
}

func (s Selector) tagged(tags map[string]string) bool {
	for k, v := range s.Tags {
		if tags[k] != v {
			return false
		}
	}
	return true
}

// Severity ranks a preflight finding.
type Severity string

const (
	// Blocker: DR cannot be set up until the user fixes it.
	Blocker Severity = "blocker"
	// Change: the plan changes the user's resource to fix it (named, so
	// the user reviews it).
	Change Severity = "change"
	// Note: worth knowing; nothing blocks.
	Note Severity = "note"
)

// Finding is one preflight result: the problem and its fix.
type Finding struct {
	Severity Severity `json:"severity"`
	Problem  string   `json:"problem"`
	Fix      string   `json:"fix,omitempty"`
	// KeyFixes: a replica key in the DR region (Options.ReplicaKeys)
	// resolves this blocker.
	KeyFixes bool `json:"replica_key_fixes,omitempty"`
}

// Key is one key attribute of a table.
type Key struct {
	Name string `json:"name"`
	Type string `json:"type"` // S, N or B
	Role string `json:"role"` // HASH or RANGE
}

// Index is one secondary index, as a global table's template must repeat
// it (an import matches the table exactly).
type Index struct {
	Name       string   `json:"name"`
	Local      bool     `json:"local,omitempty"`
	Keys       []Key    `json:"keys"`
	Projection string   `json:"projection"` // ALL, KEYS_ONLY or INCLUDE
	NonKey     []string `json:"non_key_attributes,omitempty"`
}

// Table is one DynamoDB table of the application.
type Table struct {
	Name       string            `json:"name"`
	ARN        string            `json:"arn"`
	Keys       []Key             `json:"keys"`
	Attributes []Key             `json:"attributes"` // every defined attribute (keys of the table and its indexes)
	Indexes    []Index           `json:"indexes,omitempty"`
	Stream     string            `json:"stream,omitempty"` // view type; "" when off
	Billing    string            `json:"billing"`
	Encryption string            `json:"encryption"` // "owned" (DynamoDB's key), "aws-managed" or the KMS key ARN
	TTL        string            `json:"ttl,omitempty"`
	PITR       bool              `json:"pitr"`
	Version    string            `json:"global_table_version,omitempty"`
	Replicas   []string          `json:"replicas,omitempty"`
	Items      int64             `json:"items"`
	Tags       map[string]string `json:"tags,omitempty"`
	Findings   []Finding         `json:"findings,omitempty"`
	// A provisioned table's capacity: its auto scaling (nil: none, or not
	// known where the target has no Application Auto Scaling) and its read
	// units.
	WriteScaling *Scaling `json:"write_auto_scaling,omitempty"`
	ReadScaling  *Scaling `json:"read_auto_scaling,omitempty"`
	ReadCapacity int64    `json:"read_capacity_units,omitempty"`
}

// Bucket is one S3 bucket of the application.
type Bucket struct {
	Name        string            `json:"name"`
	Versioning  string            `json:"versioning"` // Enabled, Suspended or "" (never enabled)
	Encryption  string            `json:"encryption"` // "AES256", "aws:kms" (+ key) or ""
	KMSKey      string            `json:"kms_key,omitempty"`
	Lifecycle   int               `json:"lifecycle_rules"`
	Replication []string          `json:"replication_rules,omitempty"` // existing rules' IDs
	ObjectLock  bool              `json:"object_lock"`
	Tags        map[string]string `json:"tags,omitempty"`
	Findings    []Finding         `json:"findings,omitempty"`
}

// Function is one Lambda function of the application.
type Function struct {
	Name         string            `json:"name"`
	Runtime      string            `json:"runtime,omitempty"` // "" for a container image
	Architecture string            `json:"architecture"`
	PackageType  string            `json:"package_type"` // Zip or Image
	Handler      string            `json:"handler,omitempty"`
	Memory       int32             `json:"memory_mb"`
	Timeout      int32             `json:"timeout_s"`
	URLAuth      string            `json:"url_auth,omitempty"` // AWS_IAM or NONE
	Role         string            `json:"role"`
	Layers       []string          `json:"layers,omitempty"`
	URL          string            `json:"url,omitempty"`
	Sources      []string          `json:"event_sources,omitempty"`
	Environment  []string          `json:"environment,omitempty"` // names only: values may be secrets
	Tags         map[string]string `json:"tags,omitempty"`
	Findings     []Finding         `json:"findings,omitempty"`
	// Unreadable says why the code or a layer cannot be copied: GetFunction
	// gave no code location, or a layer version could not be read.
	Unreadable []string `json:"unreadable,omitempty"`
}

// Inventory is what Scan found in the primary region, checked against the
// DR region it will be protected into.
type Inventory struct {
	Primary   string     `json:"primary"`
	DR        string     `json:"dr"`
	Selector  Selector   `json:"selector"`
	Tables    []Table    `json:"tables"`
	Buckets   []Bucket   `json:"buckets"`
	Functions []Function `json:"functions"`
	// Skipped names what could not be inventoried and why (the lab has no
	// Lambda control plane, say): said, never silently dropped.
	Skipped []string `json:"skipped,omitempty"`
}

// TableNames, BucketNames and FunctionNames name what the inventory holds,
// in its order.
func (inv Inventory) TableNames() []string {
	return names(inv.Tables, func(t Table) string { return t.Name })
}

func (inv Inventory) BucketNames() []string {
	return names(inv.Buckets, func(b Bucket) string { return b.Name })
}

func (inv Inventory) FunctionNames() []string {
	return names(inv.Functions, func(f Function) string { return f.Name })
}

func names[T any](xs []T, name func(T) string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, name(x))
	}
	return out
}

// Blockers counts the findings that stop a plan.
func (inv Inventory) Blockers() int {
	n := 0
	count := func(fs []Finding) {
		for _, f := range fs {
			if f.Severity == Blocker {
				n++
			}
		}
	}
	for _, t := range inv.Tables {
		count(t.Findings)
	}
	for _, b := range inv.Buckets {
		count(b.Findings)
	}
	for _, f := range inv.Functions {
		count(f.Findings)
	}
	return n
}

// Source is what Scan reads: the primary region's data planes, and its
// Lambda control plane when there is one (nil: the lab, which has none).
type Source struct {
	Primary  string
	DR       string
	DynamoDB *dynamodb.Client
	S3       *s3.Client
	Lambda   *lambda.Client
	// AutoScaling reads provisioned tables' auto scaling (AWS; nil in the
	// lab, whose provisioned tables have none).
	AutoScaling *applicationautoscaling.Client
	// Exclude names resources that are pilotlight's own (its sample app,
	// control tables, buckets): never the user's.
	Exclude func(name string) bool
	// Now is the clock runtime lifecycles are judged by (nil: time.Now).
	Now func() time.Time
}

func (src Source) now() time.Time {
	if src.Now == nil {
		return time.Now()
	}
	return src.Now()
}

// Scan inventories the resources sel picks in the primary region and runs
// the preflight on each. It changes nothing.
func Scan(ctx context.Context, src Source, sel Selector) (Inventory, error) {
	if src.Primary == "" || src.DR == "" || src.Primary == src.DR {
		return Inventory{}, fmt.Errorf("protect scan: need two different regions (primary %q, DR %q): set PILOTLIGHT_PRIMARY_REGION and PILOTLIGHT_DR_REGION", src.Primary, src.DR)
	}
	if sel.empty() {
		return Inventory{}, errors.New("protect scan: say which resources are the application's: --prefix, --tag KEY=VALUE or --name (a scan of everything in a region is never what you want to protect)")
	}
	inv := Inventory{Primary: src.Primary, DR: src.DR, Selector: sel}
	var err error
	if inv.Tables, err = scanTables(ctx, src, sel); err != nil {
		return inv, err
	}
	if inv.Buckets, err = scanBuckets(ctx, src, sel); err != nil {
		return inv, err
	}
	if src.Lambda == nil {
		inv.Skipped = append(inv.Skipped, "functions: this target has no Lambda control plane to list them (the lab runs pilotlight's own functions only)")
	} else if inv.Functions, err = scanFunctions(ctx, src, sel); err != nil {
		return inv, err
	}
	return inv, nil
}

func (src Source) excluded(name string) bool { return src.Exclude != nil && src.Exclude(name) }

func scanTables(ctx context.Context, src Source, sel Selector) ([]Table, error) {
	var names []string
	p := dynamodb.NewListTablesPaginator(src.DynamoDB, &dynamodb.ListTablesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list tables in %s: %w", src.Primary, err)
		}
		for _, n := range page.TableNames {
			if sel.named(n) && !src.excluded(n) {
				names = append(names, n)
			}
		}
	}
	var out []Table
	for _, n := range names {
		t, err := describeTable(ctx, src, n)
		if err != nil {
			return nil, err
		}
		if !sel.tagged(t.Tags) {
			continue
		}
		if t.Billing == "PROVISIONED" && src.AutoScaling != nil {
			if err := scanScaling(ctx, src.AutoScaling, &t); err != nil {
				return nil, err
			}
		}
		t.Findings = preflightTable(t, src.DR)
		out = append(out, t)
	}
	return out, nil
}

func describeTable(ctx context.Context, src Source, name string) (Table, error) {
	out, err := src.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return Table{}, fmt.Errorf("describe table %s: %w", name, err)
	}
	d := out.Table
	t := Table{Name: name, ARN: aws.ToString(d.TableArn), Billing: "PROVISIONED", Encryption: "owned", Version: aws.ToString(d.GlobalTableVersion), Items: aws.ToInt64(d.ItemCount)}
	types := map[string]string{}
	for _, a := range d.AttributeDefinitions {
		types[aws.ToString(a.AttributeName)] = string(a.AttributeType)
		t.Attributes = append(t.Attributes, Key{Name: aws.ToString(a.AttributeName), Type: string(a.AttributeType)})
	}
	for _, k := range d.KeySchema {
		t.Keys = append(t.Keys, Key{Name: aws.ToString(k.AttributeName), Type: types[aws.ToString(k.AttributeName)], Role: string(k.KeyType)})
	}
	index := func(name *string, local bool, ks []ddbtypes.KeySchemaElement, p *ddbtypes.Projection) Index {
		ix := Index{Name: aws.ToString(name), Local: local, Projection: "ALL"}
		for _, k := range ks {
			ix.Keys = append(ix.Keys, Key{Name: aws.ToString(k.AttributeName), Type: types[aws.ToString(k.AttributeName)], Role: string(k.KeyType)})
		}
		if p != nil && p.ProjectionType != "" {
			ix.Projection, ix.NonKey = string(p.ProjectionType), p.NonKeyAttributes
		}
		return ix
	}
	for _, g := range d.GlobalSecondaryIndexes {
		t.Indexes = append(t.Indexes, index(g.IndexName, false, g.KeySchema, g.Projection))
	}
	for _, l := range d.LocalSecondaryIndexes {
		t.Indexes = append(t.Indexes, index(l.IndexName, true, l.KeySchema, l.Projection))
	}
	if s := d.StreamSpecification; s != nil && aws.ToBool(s.StreamEnabled) {
		t.Stream = string(s.StreamViewType)
	}
	t.ReadCapacity = readCapacity(out)
	if b := d.BillingModeSummary; b != nil && b.BillingMode != "" {
		t.Billing = string(b.BillingMode)
	} else if pt := d.ProvisionedThroughput; pt != nil && aws.ToInt64(pt.ReadCapacityUnits) == 0 && aws.ToInt64(pt.WriteCapacityUnits) == 0 {
		t.Billing = string(ddbtypes.BillingModePayPerRequest)
	}
	if sse := d.SSEDescription; sse != nil && sse.SSEType == ddbtypes.SSETypeKms {
		t.Encryption = "aws-managed"
		if k := aws.ToString(sse.KMSMasterKeyArn); k != "" && !strings.HasSuffix(k, ":alias/aws/dynamodb") {
			t.Encryption = k
		}
	}
	for _, r := range d.Replicas {
		t.Replicas = append(t.Replicas, aws.ToString(r.RegionName))
	}
	if ttl, err := src.DynamoDB.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)}); err == nil && ttl.TimeToLiveDescription != nil &&
		ttl.TimeToLiveDescription.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabled {
		t.TTL = aws.ToString(ttl.TimeToLiveDescription.AttributeName)
	}
	if cb, err := src.DynamoDB.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(name)}); err == nil && cb.ContinuousBackupsDescription != nil {
		if p := cb.ContinuousBackupsDescription.PointInTimeRecoveryDescription; p != nil {
			t.PITR = p.PointInTimeRecoveryStatus == ddbtypes.PointInTimeRecoveryStatusEnabled
		}
	}
	tags, err := src.DynamoDB.ListTagsOfResource(ctx, &dynamodb.ListTagsOfResourceInput{ResourceArn: d.TableArn})
	if err == nil {
		t.Tags = map[string]string{}
		for _, tg := range tags.Tags {
			t.Tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
	}
	return t, nil
}

// Preflight judges every resource again, as Scan does: what stops or
// limits its DR copy in inv.DR, a function's runtime judged at now. An
// inventory changed after its scan needs it before a plan is made from it.
func (inv *Inventory) Preflight(now time.Time) {
	for i := range inv.Tables {
		inv.Tables[i].Findings = preflightTable(inv.Tables[i], inv.DR)
	}
	for i := range inv.Buckets {
		inv.Buckets[i].Findings = preflightBucket(inv.Buckets[i])
	}
	for i := range inv.Functions {
		inv.Functions[i].Findings = preflightFunction(inv.Functions[i], inv.Primary, inv.DR, now)
	}
}

// preflightTable says what stops the table from becoming a global table
// with a replica in dr, and how to fix it.
func preflightTable(t Table, dr string) []Finding {
	var fs []Finding
	if t.Version == "2017.11.29" {
		fs = append(fs, Finding{Blocker, "a global table of version 2017.11.29: replicas cannot be added by pilotlight", "upgrade it to version 2019.11.21 (console: Global tables → Update version), then scan again", false})
	}
	if slices.Contains(t.Replicas, dr) {
		fs = append(fs, Finding{Note, "already has a replica in " + dr, "", false})
	}
	switch t.Stream {
	case "":
		fs = append(fs, Finding{Change, "no stream: a replica needs one (NEW_AND_OLD_IMAGES)", "the plan enables it", false})
	case string(ddbtypes.StreamViewTypeNewAndOldImages):
	default:
		fs = append(fs, Finding{Blocker, "its stream's view type is " + t.Stream + ": a replica needs NEW_AND_OLD_IMAGES, and a stream's view type cannot be changed in place",
			"disable the stream and enable it with NEW_AND_OLD_IMAGES (its consumers, if any, must start again from the new stream), then scan again", false})
	}
	if t.Encryption != "owned" && t.Encryption != "aws-managed" {
		fs = append(fs, Finding{Blocker, "encrypted with a customer managed KMS key (" + t.Encryption + "): the replica needs a key in " + dr,
			"create or replicate a key in " + dr + " (a multi-Region replica key), then plan with --replica-key " + t.Name + "=<its ARN>", true})
	}
	switch {
	case t.Billing == "PROVISIONED" && t.WriteScaling == nil:
		fs = append(fs, Finding{Blocker, "provisioned capacity without write auto scaling: a global table's replicas must scale their writes (or be on demand)",
			"switch it to on-demand (PAY_PER_REQUEST), or enable write capacity auto scaling, then scan again", false})
	case t.Billing == "PROVISIONED":
		fs = append(fs, Finding{Note, scalingNote(t), "", false})
	}
	if !t.PITR {
		fs = append(fs, Finding{Note, "point-in-time recovery is off: replication protects against a region's loss, not against a bad write", "enable it (pilotlight's backup manager does not snapshot your tables)", false})
	}
	if t.TTL != "" {
		fs = append(fs, Finding{Note, "TTL on " + t.TTL + ": expiries are replicated as deletes, and the validator counts an item expired in one region only as a difference until the other expires it too", "", false})
	}
	return fs
}

func scanBuckets(ctx context.Context, src Source, sel Selector) ([]Bucket, error) {
	out, err := src.S3.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	var bs []Bucket
	for _, b := range out.Buckets {
		name := aws.ToString(b.Name)
		if !sel.named(name) || src.excluded(name) {
			continue
		}
		if r := aws.ToString(b.BucketRegion); r != "" && r != src.Primary {
			continue
		}
		bk, err := describeBucket(ctx, src, name)
		if err != nil {
			return nil, err
		}
		if !sel.tagged(bk.Tags) {
			continue
		}
		bk.Findings = preflightBucket(bk)
		bs = append(bs, bk)
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].Name < bs[j].Name })
	return bs, nil
}

// absent reports whether err says a bucket has no such configuration (S3
// answers 404 with a code per kind, or, in some servers, not implemented).
func absent(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	c := ae.ErrorCode()
	return strings.HasPrefix(c, "NoSuch") || strings.HasSuffix(c, "NotFoundError") || strings.HasSuffix(c, "NotFound") || c == "NotImplemented" || c == "ResourceNotFoundException"
}

func describeBucket(ctx context.Context, src Source, name string) (Bucket, error) {
	b := Bucket{Name: name}
	v, err := src.S3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(name)})
	if err != nil {
		return b, fmt.Errorf("bucket %s: versioning: %w", name, err)
	}
	b.Versioning = string(v.Status)
	if e, err := src.S3.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(name)}); err == nil && e.ServerSideEncryptionConfiguration != nil {
		for _, r := range e.ServerSideEncryptionConfiguration.Rules {
			if d := r.ApplyServerSideEncryptionByDefault; d != nil {
				b.Encryption, b.KMSKey = string(d.SSEAlgorithm), aws.ToString(d.KMSMasterKeyID)
			}
		}
	} else if err != nil && !absent(err) {
		return b, fmt.Errorf("bucket %s: encryption: %w", name, err)
	}
	if l, err := src.S3.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(name)}); err == nil {
		b.Lifecycle = len(l.Rules)
	} else if !absent(err) {
		return b, fmt.Errorf("bucket %s: lifecycle: %w", name, err)
	}
	if r, err := src.S3.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String(name)}); err == nil && r.ReplicationConfiguration != nil {
		for _, rule := range r.ReplicationConfiguration.Rules {
			b.Replication = append(b.Replication, aws.ToString(rule.ID))
		}
	} else if err != nil && !absent(err) {
		return b, fmt.Errorf("bucket %s: replication: %w", name, err)
	}
	if ol, err := src.S3.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(name)}); err == nil && ol.ObjectLockConfiguration != nil {
		b.ObjectLock = ol.ObjectLockConfiguration.ObjectLockEnabled == s3types.ObjectLockEnabledEnabled
	}
	if tg, err := src.S3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(name)}); err == nil {
		b.Tags = map[string]string{}
		for _, t := range tg.TagSet {
			b.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return b, nil
}

func preflightBucket(b Bucket) []Finding {
	var fs []Finding
	switch b.Versioning {
	case "Enabled":
	case "Suspended":
		fs = append(fs, Finding{Change, "versioning is suspended: replication needs it enabled", "the plan enables it again (objects written while suspended keep the null version)", false})
	default:
		fs = append(fs, Finding{Change, "versioning is off: replication needs it", "the plan enables it; it cannot be turned off again, only suspended (storage grows by the versions kept: add a lifecycle rule for noncurrent versions)", false})
	}
	if b.Encryption == "aws:kms" || b.Encryption == "aws:kms:dsse" {
		fs = append(fs, Finding{Blocker, "SSE-KMS objects replicate only with a replica key in the DR region",
			"create a key in the DR region (or a multi-Region replica of " + orDefault(b.KMSKey, "the bucket's key") + ") and plan with --replica-key " + b.Name + "=<its ARN>", true})
	}
	if len(b.Replication) > 0 {
		fs = append(fs, Finding{Note, fmt.Sprintf("has %d replication rule(s) of its own (%s): the plan adds one and keeps them", len(b.Replication), strings.Join(b.Replication, ", ")), "", false})
	}
	if b.ObjectLock {
		fs = append(fs, Finding{Note, "Object Lock is on: the replica bucket is created with Object Lock too", "", false})
	}
	if b.Lifecycle > 0 {
		fs = append(fs, Finding{Note, fmt.Sprintf("%d lifecycle rule(s): lifecycle actions are not replicated; the plan gives the replica the same rules", b.Lifecycle), "", false})
	}
	return fs
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
