package readiness_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/backup"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/drill/report"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/readiness"
	"github.com/pilotlight/pilotlight/internal/region"
)

func TestMain(m *testing.M) { labtest.Main(m) }

const (
	east    = "us-east-1"
	west    = "us-west-2"
	witness = "us-east-2"
)

// A long term: the checks run well inside it however slow the machine.
var lease = control.LeaseConfig{Term: 20 * time.Second, Epsilon: 100 * time.Millisecond, Delta: 200 * time.Millisecond}

// ready provisions a deployment of its own in the lab (tables, versioned
// buckets, control records in three regions), renews the primary's lease
// and keeps a passing drill and a snapshot: every check passes.
func ready(t *testing.T) readiness.Input {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the lab")
	}
	names := labtest.Provision(t, "rdy")
	p, d := labtest.Clients(t, 1)
	in := readiness.Input{Primary: east, DR: west, Witness: witness, Names: names,
		Clients: map[string]*region.Clients{east: p, west: d},
		Stores:  labtest.Stores(t, names, 1),
		Lease:   lease, RPOObjective: time.Second, History: report.History{Dir: t.TempDir()},
		Replication: func(context.Context) (readiness.Replication, error) {
			return readiness.Replication{OldestPending: 100 * time.Millisecond}, nil
		}}
	ctx := context.Background()
	if _, err := in.History.Save(&report.Report{Scenario: "region-outage", Started: time.Now().Add(-time.Hour), Pass: true}); err != nil {
		t.Fatal(err)
	}
	m := &backup.Manager{DB: p.DynamoDB, S3: p.S3, Region: east, Table: names.Table(), Bucket: names.BackupBucket(east)}
	if _, err := m.Create(ctx); err != nil {
		t.Fatal(err)
	}
	q := &control.Quorum{Stores: []*control.Store{in.Stores[east], in.Stores[west], in.Stores[witness]}, Witness: witness, Lease: lease}
	if _, err := q.Renew(ctx, east); err != nil {
		t.Fatal(err)
	}
	return in
}

func result(t *testing.T, r readiness.Report, check string) readiness.Result {
	t.Helper()
	for _, res := range r.Results {
		if strings.HasPrefix(res.Check, check) {
			return res
		}
	}
	t.Fatalf("no check %q in %+v", check, r.Results)
	return readiness.Result{}
}

func want(t *testing.T, r readiness.Report, check string, status readiness.Status, say string) {
	t.Helper()
	res := result(t, r, check)
	if res.Status != status || !strings.Contains(res.Detail+" "+res.Fix, say) {
		t.Fatalf("%s: %s %q (fix %q); want %s saying %q", check, res.Status, res.Detail, res.Fix, status, say)
	}
	if status == readiness.Fail && r.Ready {
		t.Fatalf("a failed check %s, yet the report says ready", check)
	}
}

// One deployment, then one misconfiguration at a time: each check catches
// its own, and every check passes on the deployment as it was made.
func TestEachCheckCatchesItsMisconfiguration(t *testing.T) {
	in := ready(t)
	ctx := context.Background()
	r := readiness.Run(ctx, in)
	if !r.Ready {
		t.Fatalf("a ready deployment is not ready: %+v", r.Results)
	}
	for _, res := range r.Results {
		if res.Status != readiness.Pass {
			t.Errorf("%s: %s %q", res.Check, res.Status, res.Detail)
		}
	}

	t.Run("replication", func(t *testing.T) {
		in := in
		in.Replication = func(context.Context) (readiness.Replication, error) { return readiness.Replication{Paused: true}, nil }
		want(t, readiness.Run(ctx, in), "replication", readiness.Fail, "lab replication resume")
		in.Replication = func(context.Context) (readiness.Replication, error) {
			return readiness.Replication{OldestPending: 3 * time.Second}, nil
		}
		want(t, readiness.Run(ctx, in), "replication", readiness.Fail, "beyond the RPO objective")
	})
	t.Run("drill", func(t *testing.T) {
		in := in
		in.History = report.History{Dir: t.TempDir()}
		want(t, readiness.Run(ctx, in), "last drill", readiness.Warn, "pilotlight drill")
		if _, err := in.History.Save(&report.Report{Scenario: "region-outage", Started: time.Now(), Failures: []string{"RTO missed"}}); err != nil {
			t.Fatal(err)
		}
		want(t, readiness.Run(ctx, in), "last drill", readiness.Fail, "RTO missed")
		old := report.History{Dir: t.TempDir()}
		if _, err := old.Save(&report.Report{Scenario: "region-outage", Started: time.Now().Add(-60 * 24 * time.Hour), Pass: true}); err != nil {
			t.Fatal(err)
		}
		in.History = old
		want(t, readiness.Run(ctx, in), "last drill", readiness.Warn, "how often")
	})
	t.Run("backup", func(t *testing.T) {
		in := in
		in.Now = func() time.Time { return time.Now().Add(72 * time.Hour) }
		want(t, readiness.Run(ctx, in), "last backup", readiness.Warn, "schedule may be failing")
	})
	t.Run("lease", func(t *testing.T) {
		in := in
		in.Now = func() time.Time { return time.Now().Add(lease.Term) }
		want(t, readiness.Run(ctx, in), "writable region", readiness.Fail, "no region accepts writes")
	})
	t.Run("buckets", func(t *testing.T) {
		c := in.Clients[west]
		b := in.Names.Bucket(west)
		if _, err := c.S3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(b),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusSuspended}}); err != nil {
			t.Fatal(err)
		}
		defer c.S3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(b),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
		want(t, readiness.Run(ctx, in), "buckets versioned", readiness.Fail, b)
	})
	t.Run("control records", func(t *testing.T) {
		in := in
		if err := in.Stores[west].CompareAndSet(ctx, 1, record.Active{Region: west, Epoch: 2, Since: time.Now()}); err != nil {
			t.Fatal(err)
		}
		want(t, readiness.Run(ctx, in), "control records", readiness.Warn, "has not caught up")
		w := labtest.Witness(t, 1)
		if _, err := w.DynamoDB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(in.Names.ControlTable()),
			Key: map[string]dbtypes.AttributeValue{"pk": &dbtypes.AttributeValueMemberS{Value: "active"}, "sk": &dbtypes.AttributeValueMemberS{Value: "active"}}}); err != nil {
			t.Fatal(err)
		}
		want(t, readiness.Run(ctx, in), "control records", readiness.Fail, witness)
	})
}

// A DR replica without its stream, or with other keys, is caught.
func TestTableSchemaDiffers(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the lab")
	}
	names := region.Names{App: "rdyschema" + time.Now().Format("150405")}
	p, d := labtest.Clients(t, 0)
	ctx := context.Background()
	create := func(c *region.Clients, stream bool) {
		in := &dynamodb.CreateTableInput{TableName: aws.String(names.Table()), BillingMode: dbtypes.BillingModePayPerRequest,
			AttributeDefinitions: []dbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: dbtypes.ScalarAttributeTypeS}},
			KeySchema:            []dbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: dbtypes.KeyTypeHash}}}
		if stream {
			in.StreamSpecification = &dbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: dbtypes.StreamViewTypeNewAndOldImages}
		}
		if _, err := c.DynamoDB.CreateTable(ctx, in); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c.DynamoDB.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(names.Table())})
		})
	}
	create(p, true)
	create(d, false)
	r := readiness.Run(ctx, readiness.Input{Primary: east, DR: west, Names: names, Clients: map[string]*region.Clients{east: p, west: d}, History: report.History{Dir: t.TempDir()}})
	want(t, r, "table", readiness.Fail, west+": stream off")
}
