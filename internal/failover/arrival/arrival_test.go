package arrival

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/region"
)

func order(id, note string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{region.TableHashKey: &types.AttributeValueMemberS{Value: id}, "note": &types.AttributeValueMemberS{Value: note}}
}

// The failback's drain proves arrival item by item, not by one canary:
// items replicate independently, so a drain that saw its canary arrive
// could release the target while an earlier write was still on its way.
// (At aa72caa the drain wrote one canary and waited for it alone.)
func TestArrivalDrainProvesEveryItemAndObject(t *testing.T) {
	ctx := labtest.Context(t)
	names := labtest.Provision(t, "arr")
	east, west := labtest.Clients(t, 0)
	table := names.Table()
	// West (the region failing back) acknowledged three writes and a
	// removal; east has only some of them.
	labtest.PutItems(t, ctx, west, table, order("o-1", "a"), order("o-2", "b"), order("o-3", "c"), order("o-4", "gone"))
	if _, err := west.DynamoDB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{region.TableHashKey: &types.AttributeValueMemberS{Value: "o-4"}}}); err != nil {
		t.Fatal(err)
	}
	labtest.PutItems(t, ctx, east, table, order("o-1", "a"), order("o-2", "stale"), order("o-4", "gone"))
	d := &Drainer{Clients: map[string]*region.Clients{east.Name: east, west.Name: west}, Names: names, Timeout: 3 * time.Second}
	err := d.Drain(ctx, west.Name, east.Name, time.Time{})
	if err == nil {
		t.Fatal("the drain passed with o-2 stale, o-3 missing and o-4 not removed in east")
	}
	for _, want := range []string{"3 items", "not in " + east.Name} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("drain error %q does not say %q", err, want)
		}
	}
	labtest.PutItems(t, ctx, east, table, order("o-2", "b"), order("o-3", "c"))
	if err := d.Drain(ctx, west.Name, east.Name, time.Time{}); err == nil || !strings.Contains(err.Error(), "1 items") {
		t.Fatalf("with o-4 still in east: %v, want one item pending", err)
	}
	if _, err := east.DynamoDB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{region.TableHashKey: &types.AttributeValueMemberS{Value: "o-4"}}}); err != nil {
		t.Fatal(err)
	}
	if err := d.Drain(ctx, west.Name, east.Name, time.Time{}); err != nil {
		t.Fatalf("every write arrived: %v", err)
	}
	// A write after the catch-up (the second drain reads on from there).
	labtest.PutItems(t, ctx, west, table, order("o-1", "changed"))
	if err := d.Drain(ctx, west.Name, east.Name, time.Time{}); err == nil {
		t.Fatal("the drain after the handover missed a write made since the catch-up")
	}
	labtest.PutItems(t, ctx, east, table, order("o-1", "changed"))
	if err := d.Drain(ctx, west.Name, east.Name, time.Time{}); err != nil {
		t.Fatal(err)
	}

	// Objects: the latest version of each, by ETag.
	d.Objects = true
	put := func(c *region.Clients, r, key, body string) {
		t.Helper()
		if _, err := c.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(names.Bucket(r)), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	put(west, west.Name, "attachments/o-1", "v2")
	put(east, east.Name, "attachments/o-1", "v1")
	if err := d.Drain(ctx, west.Name, east.Name, time.Time{}); err == nil || !strings.Contains(err.Error(), "attachments/o-1") {
		t.Fatalf("an object with another ETag in east: %v, want it named", err)
	}
	put(east, east.Name, "attachments/o-1", "v2")
	if err := d.Drain(ctx, west.Name, east.Name, time.Time{}); err != nil {
		t.Fatal(err)
	}
}

// A drain proves the source's tenure, not its whole stream: a resumed
// failback (a new process, no stream positions) read every write of the
// stream's 24 hours and held writes for as long as proving them took (14 s
// against a 12 s bound in the lab's failback-interrupted scenario). The
// bound must never skip a write of the tenure: one made at its first
// instant is still proved, though the stream rounds its time down.
func TestArrivalDrainProvesTheTenureOnly(t *testing.T) {
	// The test waits up to a minute for the clock (below): its context
	// is longer than ctxT's.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	names := labtest.Provision(t, "ten")
	east, west := labtest.Clients(t, 0)
	table := names.Table()
	put := func(c *region.Clients, r, key, body string) {
		t.Helper()
		if _, err := c.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(names.Bucket(r)), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	// Before west's tenure: a write east has a newer version of (east's
	// tenure overwrote it), and an object likewise.
	labtest.PutItems(t, ctx, west, table, order("o-old", "west's, before its tenure"))
	labtest.PutItems(t, ctx, east, table, order("o-old", "east's, newer"))
	put(west, west.Name, "attachments/o-old", "v1")
	put(east, east.Name, "attachments/o-old", "v2")
	// DynamoDB Local rounds a stream record's time down to the minute: the
	// tenure begins two seconds into the next minute (a condition on the
	// clock, waited for), and its first write at once — a record stamped
	// the minute's start, before the tenure, that must still be proved.
	next := time.Now().Truncate(time.Minute).Add(time.Minute + 2*time.Second)
	for time.Now().Before(next) {
		time.Sleep(time.Until(next))
	}
	since := time.Now()
	labtest.PutItems(t, ctx, west, table, order("o-new", "in the tenure"))
	put(west, west.Name, "attachments/o-new", "v1")

	drainer := func() *Drainer {
		return &Drainer{Clients: map[string]*region.Clients{east.Name: east, west.Name: west}, Names: names, Timeout: 5 * time.Second, Objects: true, Rounding: LocalStreamRounding}
	}
	err := drainer().Drain(ctx, west.Name, east.Name, since)
	if err == nil || !strings.Contains(err.Error(), "1 items") || !strings.Contains(err.Error(), "o-new") {
		t.Fatalf("drain of the tenure with o-new missing in east: %v, want exactly o-new pending", err)
	}
	labtest.PutItems(t, ctx, east, table, order("o-new", "in the tenure"))
	err = drainer().Drain(ctx, west.Name, east.Name, since)
	if err == nil || !strings.Contains(err.Error(), "attachments/o-new") || strings.Contains(err.Error(), "attachments/o-old") {
		t.Fatalf("drain of the tenure with attachments/o-new missing in east: %v, want it alone named", err)
	}
	put(east, east.Name, "attachments/o-new", "v1")
	if err := drainer().Drain(ctx, west.Name, east.Name, since); err != nil {
		t.Fatalf("every write of the tenure arrived: %v", err)
	}
	// The bound is what skipped o-old: without one it is proved (and
	// differs).
	if err := drainer().Drain(ctx, west.Name, east.Name, time.Time{}); err == nil || !strings.Contains(err.Error(), "o-old") {
		t.Fatalf("drain of the whole stream: %v, want o-old named", err)
	}
}

// A protected application's tables and buckets are proved as pilotlight's
// own are: failback promises the application no acknowledged write lost,
// so a drain that proved the orders table alone could release the target
// while a write to the user's table (composite key) or bucket was still
// on its way.
func TestArrivalDrainProvesTheAdoptedTablesAndBuckets(t *testing.T) {
	ctx := labtest.Context(t)
	names := labtest.Provision(t, "adp")
	east, west := labtest.Clients(t, 0)
	table, bucket := names.App+"-carts", names.App+"-media"
	for _, c := range []*region.Clients{east, west} {
		if _, err := c.DynamoDB.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("user"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("line"), AttributeType: types.ScalarAttributeTypeN}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("user"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("line"), KeyType: types.KeyTypeRange}},
			StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket + "-" + c.Name)}); err != nil {
			t.Fatal(err)
		}
	}
	line := func(user string, n int) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"user": &types.AttributeValueMemberS{Value: user}, "line": &types.AttributeValueMemberN{Value: strconv.Itoa(n)}}
	}
	d := &Drainer{Clients: map[string]*region.Clients{east.Name: east, west.Name: west}, Names: names, Timeout: 3 * time.Second,
		Adopted: func(context.Context) (Adopted, error) {
			return Adopted{Tables: []string{table}, Buckets: []map[string]string{{east.Name: bucket + "-" + east.Name, west.Name: bucket + "-" + west.Name}}}, nil
		}}
	labtest.PutItems(t, ctx, west, table, line("ann", 1), line("ann", 2))
	labtest.PutItems(t, ctx, east, table, line("ann", 1))
	err := d.Drain(ctx, west.Name, east.Name, time.Time{})
	if err == nil || !strings.Contains(err.Error(), "1 items") || !strings.Contains(err.Error(), "table "+table) || !strings.Contains(err.Error(), "line=2") {
		t.Fatalf("with ann's line 2 only in west: %v, want it named in table %s", err, table)
	}
	labtest.PutItems(t, ctx, east, table, line("ann", 2))
	if _, err := west.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket + "-" + west.Name), Key: aws.String("images/cat.png"), Body: strings.NewReader("meow")}); err != nil {
		t.Fatal(err)
	}
	if err := d.Drain(ctx, west.Name, east.Name, time.Time{}); err == nil || !strings.Contains(err.Error(), "images/cat.png") {
		t.Fatalf("an object only in west's adopted bucket: %v, want it named", err)
	}
	if _, err := east.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket + "-" + east.Name), Key: aws.String("images/cat.png"), Body: strings.NewReader("meow")}); err != nil {
		t.Fatal(err)
	}
	if err := d.Drain(ctx, west.Name, east.Name, time.Time{}); err != nil {
		t.Fatalf("every write arrived: %v", err)
	}
}

// flakyStreams fails the first n GetRecords calls as a connection reset
// would, then passes every call on.
type flakyStreams struct {
	base   dynamodbstreams.HTTPClient
	n      int
	failed int
}

func (f *flakyStreams) Do(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".GetRecords") && f.failed < f.n {
		f.failed++
		return nil, errors.New("read: connection reset by peer")
	}
	return f.base.Do(r)
}

// A transient error reading the source's stream is read again within the
// drain's timeout, not taken for a failed drain: under a loaded lab the
// tick's resumed failback (one attempt per call) met one, and rolled back
// a failback that had every write in place.
func TestArrivalDrainReadsTheStreamAgainAfterAnError(t *testing.T) {
	ctx := labtest.Context(t)
	names := labtest.Provision(t, "flk")
	east, west := labtest.Clients(t, 1)
	table := names.Table()
	labtest.PutItems(t, ctx, west, table, order("o-1", "a"), order("o-2", "b"))
	labtest.PutItems(t, ctx, east, table, order("o-1", "a"), order("o-2", "b"))
	flaky := &flakyStreams{n: 2}
	src := *west
	src.Streams = dynamodbstreams.New(west.Streams.Options(), func(o *dynamodbstreams.Options) {
		flaky.base = o.HTTPClient
		o.HTTPClient = flaky
		o.RetryMaxAttempts = 1
	})
	d := &Drainer{Clients: map[string]*region.Clients{east.Name: east, west.Name: &src}, Names: names, Timeout: 10 * time.Second}
	if err := d.Drain(ctx, west.Name, east.Name, time.Time{}); err != nil {
		t.Fatalf("a drain with every write in place failed on %d stream errors: %v", flaky.failed, err)
	}
	if flaky.failed != 2 {
		t.Fatalf("the stream failed %d times, want 2: the test did not reach the read", flaky.failed)
	}
	// A stream that never answers still fails the drain, naming it.
	flaky.n, flaky.failed = 1<<30, 0
	d = &Drainer{Clients: map[string]*region.Clients{east.Name: east, west.Name: &src}, Names: names, Timeout: time.Second}
	if err := d.Drain(ctx, west.Name, east.Name, time.Time{}); err == nil || !strings.Contains(err.Error(), "stream") {
		t.Fatalf("a stream that never answers: %v, want the drain to fail naming it", err)
	}
}
