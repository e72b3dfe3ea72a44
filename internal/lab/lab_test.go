package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/health"
	"github.com/pilotlight/pilotlight/internal/lab/atomicfile"
	"github.com/pilotlight/pilotlight/internal/lab/faults"
	"github.com/pilotlight/pilotlight/internal/lab/replication"
	"github.com/pilotlight/pilotlight/internal/lab/replication/objects"
	"github.com/pilotlight/pilotlight/internal/lab/server"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

var (
	sharedOnce sync.Once
	shared     *Lab
	sharedErr  error
	sharedDir  string
)

// requireServers skips when the lab's servers are not installed, except in
// CI, where a missing server is a failure.
func requireServers(t testing.TB) server.Paths {
	t.Helper()
	s, err := server.Find(server.DefaultCacheDir())
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("lab servers missing in CI: %v", err), fmt.Sprintf("lab servers missing: %v", err))
	}
	return s
}

// testLab returns the package's shared lab, started on free ports. Tests that
// change faults, lag or pause restore them in Cleanup.
func testLab(t *testing.T) *Lab {
	t.Helper()
	sv := requireServers(t)
	sharedOnce.Do(func() {
		sharedDir, sharedErr = os.MkdirTemp("", "pilotlight-lab-test-")
		if sharedErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		shared, sharedErr = Start(ctx, Options{
			Primary: "us-east-1", DR: "us-west-2", Dir: sharedDir, Servers: sv, Lag: 0,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
	})
	if sharedErr != nil {
		t.Fatalf("start lab: %v", sharedErr)
	}
	t.Cleanup(func() {
		_ = shared.Restore("")
		shared.SetPaused(false)
		_ = shared.SetLag(0)
	})
	return shared
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, detail := cond()
		if ok {
			return
		}
		last = detail
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s (%s)", what, timeout, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func clients(t *testing.T, l *Lab) (p, dr *region.Clients) {
	t.Helper()
	var err error
	if p, err = l.Clients(l.opts.Primary, 0); err != nil {
		t.Fatal(err)
	}
	if dr, err = l.Clients(l.opts.DR, 0); err != nil {
		t.Fatal(err)
	}
	return p, dr
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func putItem(ctx context.Context, c *region.Clients, table, pk string, attrs map[string]string) error {
	it := map[string]dbtypes.AttributeValue{region.TableHashKey: &dbtypes.AttributeValueMemberS{Value: pk}}
	for k, v := range attrs {
		it[k] = &dbtypes.AttributeValueMemberS{Value: v}
	}
	_, err := c.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it})
	return err
}

// getItem returns the item's user attributes (replication stamps removed),
// or nil when absent.
func getItem(ctx context.Context, c *region.Clients, table, pk string) (map[string]string, error) {
	out, err := c.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]dbtypes.AttributeValue{region.TableHashKey: &dbtypes.AttributeValueMemberS{Value: pk}}})
	if err != nil || out.Item == nil {
		return nil, err
	}
	m := map[string]string{}
	for k, v := range out.Item {
		if k == region.AttrRepVersion || k == region.AttrRepDeleting {
			continue
		}
		if s, ok := v.(*dbtypes.AttributeValueMemberS); ok {
			m[k] = s.Value
		}
	}
	return m, nil
}

func countPrefix(ctx context.Context, c *region.Clients, table, prefix string) (int, error) {
	n := 0
	p := dynamodb.NewScanPaginator(c.DynamoDB, &dynamodb.ScanInput{TableName: aws.String(table),
		FilterExpression:          aws.String("begins_with(#pk, :p)"),
		ExpressionAttributeNames:  map[string]string{"#pk": region.TableHashKey},
		ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":p": &dbtypes.AttributeValueMemberS{Value: prefix}}})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		n += int(out.Count)
	}
	return n, nil
}

func TestThousandItemsReplicate(t *testing.T) {
	l := testLab(t)
	ctx := ctxT(t)
	p, dr := clients(t, l)
	table := l.Names().Table()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < 1000; i += 8 {
				if err := putItem(ctx, p, table, fmt.Sprintf("bulk#%04d", i), map[string]string{"n": strconv.Itoa(i)}); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "1000 items in DR", func() (bool, string) {
		n, err := countPrefix(ctx, dr, table, "bulk#")
		return n == 1000, fmt.Sprintf("have %d, err %v", n, err)
	})
	for _, i := range []int{0, 499, 999} {
		got, err := getItem(ctx, dr, table, fmt.Sprintf("bulk#%04d", i))
		if err != nil || got["n"] != strconv.Itoa(i) {
			t.Errorf("item %d in DR = %v, %v", i, got, err)
		}
	}
	// Nothing comes back: the primary still has exactly 1000 and each item
	// once, with no replication stamp (a ping-pong would stamp it).
	n, err := countPrefix(ctx, p, table, "bulk#")
	if err != nil || n != 1000 {
		t.Fatalf("primary has %d items (%v), want 1000", n, err)
	}
	out, err := p.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]dbtypes.AttributeValue{region.TableHashKey: &dbtypes.AttributeValueMemberS{Value: "bulk#0007"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, stamped := out.Item[region.AttrRepVersion]; stamped {
		t.Errorf("primary item was overwritten by a replica: %v", out.Item[region.AttrRepVersion])
	}
}

func TestUpdatesAndDeletesReplicate(t *testing.T) {
	l := testLab(t)
	ctx := ctxT(t)
	p, dr := clients(t, l)
	table := l.Names().Table()
	for _, c := range []*region.Clients{p, dr} {
		other := dr
		if c == dr {
			other = p
		}
		pk := "upd#" + c.Name
		if err := putItem(ctx, c, table, pk, map[string]string{"v": "1"}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "insert replicates from "+c.Name, func() (bool, string) {
			got, err := getItem(ctx, other, table, pk)
			return got["v"] == "1", fmt.Sprintf("%v %v", got, err)
		})
		// An in-place update of a replicated item is the user's write too.
		_, err := other.DynamoDB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table),
			Key:                       map[string]dbtypes.AttributeValue{region.TableHashKey: &dbtypes.AttributeValueMemberS{Value: pk}},
			UpdateExpression:          aws.String("SET v = :v"),
			ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":v": &dbtypes.AttributeValueMemberS{Value: "2"}}})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "update replicates back to "+c.Name, func() (bool, string) {
			got, err := getItem(ctx, c, table, pk)
			return got["v"] == "2", fmt.Sprintf("%v %v", got, err)
		})
		if _, err := c.DynamoDB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table),
			Key: map[string]dbtypes.AttributeValue{region.TableHashKey: &dbtypes.AttributeValueMemberS{Value: pk}}}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "delete replicates from "+c.Name, func() (bool, string) {
			got, err := getItem(ctx, other, table, pk)
			return got == nil && err == nil, fmt.Sprintf("%v %v", got, err)
		})
	}
}

func TestConflictsConverge(t *testing.T) {
	l := testLab(t)
	ctx := ctxT(t)
	p, dr := clients(t, l)
	table := l.Names().Table()
	// With replication paused, both regions write the same keys; after
	// resume both sides must hold the same winner for every key.
	// Versions are stamped when a region's stream is read, so "later" means
	// later than the stream poll interval (10 ms): write every key's first
	// value, wait until both readers have seen them, then the second values.
	l.SetPaused(true)
	const n = 50
	order := func(i int) (first, second *region.Clients) {
		if i%2 == 1 {
			return dr, p
		}
		return p, dr
	}
	base := [2]int{l.Status(ctx).Replication[0].Pending, l.Status(ctx).Replication[1].Pending}
	for i := 0; i < n; i++ {
		first, _ := order(i)
		if err := putItem(ctx, first, table, fmt.Sprintf("conflict#%02d", i), map[string]string{"by": first.Name}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "readers see the first writes", func() (bool, string) {
		st := l.Status(ctx)
		return st.Replication[0].Pending-base[0] == n/2 && st.Replication[1].Pending-base[1] == n/2, fmt.Sprintf("%+v", st.Replication[:2])
	})
	for i := 0; i < n; i++ {
		_, second := order(i)
		if err := putItem(ctx, second, table, fmt.Sprintf("conflict#%02d", i), map[string]string{"by": second.Name}); err != nil {
			t.Fatal(err)
		}
	}
	l.SetPaused(false)
	eventually(t, 20*time.Second, "conflicts converge", func() (bool, string) {
		for i := 0; i < n; i++ {
			pk := fmt.Sprintf("conflict#%02d", i)
			a, err1 := getItem(ctx, p, table, pk)
			b, err2 := getItem(ctx, dr, table, pk)
			if err1 != nil || err2 != nil || a == nil || b == nil || a["by"] != b["by"] {
				return false, fmt.Sprintf("%s: primary %v dr %v (%v %v)", pk, a, b, err1, err2)
			}
		}
		return true, ""
	})
	// Last writer wins: the second write of each pair is the winner.
	for i := 0; i < n; i++ {
		pk := fmt.Sprintf("conflict#%02d", i)
		want := dr.Name
		if i%2 == 1 {
			want = p.Name
		}
		got, _ := getItem(ctx, p, table, pk)
		if got["by"] != want {
			t.Errorf("%s: winner %s, want the later write from %s", pk, got["by"], want)
		}
	}
}

func TestObjectVersionsReplicate(t *testing.T) {
	l := testLab(t)
	ctx := ctxT(t)
	p, dr := clients(t, l)
	n := l.Names()
	for i := 1; i <= 3; i++ {
		if _, err := p.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(n.Bucket(p.Name)), Key: aws.String("docs/a.txt"),
			Body: bytes.NewReader([]byte("version " + strconv.Itoa(i))), ContentType: aws.String("text/plain")}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "three versions in DR", func() (bool, string) {
		out, err := dr.S3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(n.Bucket(dr.Name)), Prefix: aws.String("docs/a.txt")})
		if err != nil {
			return false, err.Error()
		}
		return len(out.Versions) == 3, fmt.Sprintf("%d versions", len(out.Versions))
	})
	get, err := dr.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(n.Bucket(dr.Name)), Key: aws.String("docs/a.txt")})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(get.Body)
	get.Body.Close()
	if string(body) != "version 3" || aws.ToString(get.ContentType) != "text/plain" {
		t.Fatalf("DR latest = %q (%s), want the newest version's content", body, aws.ToString(get.ContentType))
	}
	if get.Metadata[region.MetaSourceRegion] != p.Name {
		t.Errorf("replica metadata = %v", get.Metadata)
	}
	// A delete marker replicates too.
	if _, err := p.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(n.Bucket(p.Name)), Key: aws.String("docs/a.txt")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "delete marker in DR", func() (bool, string) {
		_, err := dr.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(n.Bucket(dr.Name)), Key: aws.String("docs/a.txt")})
		return err != nil, fmt.Sprint(err)
	})
	// Replicas never travel back to the primary, even with failback on.
	l.SetFailback(true)
	defer l.SetFailback(false)
	if _, err := dr.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(n.Bucket(dr.Name)), Key: aws.String("docs/b.txt"), Body: bytes.NewReader([]byte("from dr"))}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "failback copies DR writes", func() (bool, string) {
		_, err := p.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(n.Bucket(p.Name)), Key: aws.String("docs/b.txt")})
		return err == nil, fmt.Sprint(err)
	})
	out, err := p.S3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(n.Bucket(p.Name)), Prefix: aws.String("docs/a.txt")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Versions) != 3 || len(out.DeleteMarkers) != 1 {
		t.Errorf("primary holds %d versions and %d markers of a.txt, want 3 and 1 (replicas came back)", len(out.Versions), len(out.DeleteMarkers))
	}
}

func TestPauseAndResumeLoseNothing(t *testing.T) {
	l := testLab(t)
	ctx := ctxT(t)
	p, dr := clients(t, l)
	table := l.Names().Table()
	l.SetPaused(true)
	for i := 0; i < 200; i++ {
		if err := putItem(ctx, p, table, fmt.Sprintf("pause#%03d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	// While paused nothing arrives, however long we look: wait until the
	// reader has seen all 200 (pending), then check DR is still empty.
	eventually(t, 10*time.Second, "reader sees paused writes", func() (bool, string) {
		st := l.Status(ctx)
		return st.Replication[0].Pending >= 200, fmt.Sprintf("pending %d", st.Replication[0].Pending)
	})
	if n, err := countPrefix(ctx, dr, table, "pause#"); err != nil || n != 0 {
		t.Fatalf("paused replication delivered %d items (%v)", n, err)
	}
	before := l.Status(ctx).Replication[0].Applied
	l.SetPaused(false)
	eventually(t, 20*time.Second, "resume catches up", func() (bool, string) {
		n, err := countPrefix(ctx, dr, table, "pause#")
		return n == 200, fmt.Sprintf("have %d (%v)", n, err)
	})
	eventually(t, 5*time.Second, "queue drains", func() (bool, string) {
		st := l.Status(ctx).Replication[0]
		return st.Pending == 0, fmt.Sprintf("pending %d", st.Pending)
	})
	if got := l.Status(ctx).Replication[0].Applied - before; got != 200 {
		t.Errorf("applied %d changes after resume, want exactly 200 (no duplicates)", got)
	}
}

func TestCutRegionFailsFastAndRecovers(t *testing.T) {
	l := testLab(t)
	ctx := ctxT(t)
	probe, err := l.Clients(l.opts.Primary, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []region.Service{"", region.DynamoDB, region.S3} {
		t.Run("service="+string(svc), func(t *testing.T) {
			if err := l.Cut(l.opts.Primary, svc); err != nil {
				t.Fatal(err)
			}
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			ddbErr := putItem(cctx, probe, l.Names().Table(), "cut#1", nil)
			_, s3Err := probe.S3.ListBuckets(cctx, &s3.ListBucketsInput{})
			if svc != "s3" && ddbErr == nil {
				t.Error("dynamodb call succeeded through a cut")
			}
			if svc != "dynamodb" && s3Err == nil {
				t.Error("s3 call succeeded through a cut")
			}
			if svc == "s3" && ddbErr != nil {
				t.Errorf("cutting s3 broke dynamodb: %v", ddbErr)
			}
			if errors.Is(cctx.Err(), context.DeadlineExceeded) {
				t.Error("calls through a cut hung until the deadline instead of failing fast")
			}
			if err := l.Restore(l.opts.Primary); err != nil {
				t.Fatal(err)
			}
			if err := probe.Ping(ctx); err != nil {
				t.Fatalf("restored region does not answer: %v", err)
			}
		})
	}
	if err := l.AddLatency(l.opts.DR, region.DynamoDB, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	drProbe, _ := l.Clients(l.opts.DR, 1)
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := putItem(cctx, drProbe, l.Names().Table(), "slow#1", nil); err == nil {
		t.Error("a 300ms-latency call met a 100ms deadline")
	}
	if got := l.Faults(); len(got) != 1 || got[0].Kind != faults.Latency {
		t.Errorf("faults = %+v", got)
	}
}

func TestRestartedReplicatorResumes(t *testing.T) {
	l := testLab(t)
	ctx := ctxT(t)
	p, dr := clients(t, l)
	table := l.Names().Table()
	for i := 0; i < 100; i++ {
		if err := putItem(ctx, p, table, fmt.Sprintf("restart#%03d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "first half", func() (bool, string) {
		n, err := countPrefix(ctx, dr, table, "restart#")
		return n == 100, fmt.Sprintf("%d %v", n, err)
	})
	l.stopReplication()
	// Written while no replicator runs: must arrive after the restart.
	for i := 100; i < 200; i++ {
		if err := putItem(ctx, p, table, fmt.Sprintf("restart#%03d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.startReplication(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "second half after restart", func() (bool, string) {
		n, err := countPrefix(ctx, dr, table, "restart#")
		return n == 200, fmt.Sprintf("%d %v", n, err)
	})
	eventually(t, 5*time.Second, "queue drains", func() (bool, string) {
		st := l.Status(ctx).Replication[0]
		return st.Pending == 0, fmt.Sprintf("pending %d", st.Pending)
	})
	// The restarted replicator applied only what it had not: 100 changes.
	if got := l.Status(ctx).Replication[0].Applied; got != 100 {
		t.Errorf("restarted replicator applied %d changes, want 100 (no repeats, no gaps)", got)
	}
}

// TestRestartedObjectReplicatorCatchesUp: versions written while the
// object replicator is down arrive after it restarts (its change feed
// missed them; the catch-up listing finds them), and copies it made but
// never logged — a crash between copying and saving — are recognised in
// the destination, not copied twice.
func TestRestartedObjectReplicatorCatchesUp(t *testing.T) {
	l := testLab(t)
	ctx := ctxT(t)
	p, dr := clients(t, l)
	n := l.Names()
	put := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := p.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(n.Bucket(p.Name)), Key: aws.String(fmt.Sprintf("resume/%02d", i)), Body: bytes.NewReader([]byte("x"))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	versionsIn := func(c *region.Clients) (int, error) {
		out, err := c.S3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(n.Bucket(c.Name)), Prefix: aws.String("resume/")})
		if err != nil {
			return 0, err
		}
		return len(out.Versions), nil
	}
	put(0, 30)
	eventually(t, 10*time.Second, "first 30 in DR", func() (bool, string) {
		got, err := versionsIn(dr)
		return got == 30, fmt.Sprintf("%d versions (%v)", got, err)
	})
	l.stopReplication()
	// Forget that the first 30 were copied, as a crash before the log was
	// written would.
	path := filepath.Join(l.opts.Dir, "replication", "objects.json")
	pos, err := objects.LoadPosition(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range []map[string][]string{pos.Copied[p.Name+">"+dr.Name]["data"], pos.Created[dr.Name]["data"]} {
		for k := range set {
			if strings.HasPrefix(k, "resume/") {
				delete(set, k)
			}
		}
	}
	b, err := json.Marshal(pos)
	if err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	put(30, 60) // while no replicator runs
	if err := l.startReplication(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "all 60 in DR", func() (bool, string) {
		got, err := versionsIn(dr)
		return got >= 60, fmt.Sprintf("%d versions (%v)", got, err)
	})
	eventually(t, 10*time.Second, "queue drains", func() (bool, string) {
		st := l.Status(ctx).Replication
		for _, d := range st {
			if d.Kind == "objects" && d.From == p.Name && (d.Pending != 0 || d.PassAt.IsZero()) {
				return false, fmt.Sprintf("%+v", d)
			}
		}
		return true, ""
	})
	if got, err := versionsIn(dr); err != nil || got != 60 {
		t.Errorf("DR holds %d versions of 60 keys (%v): a copy was repeated", got, err)
	}
}

// TestLaterWriteWinsWhateverTheReadOrder is the reproduction made
// deterministic: us-east-1's DynamoDB answers 3 s late, so its stream is
// read at least 3 s after a write there; us-west-2 writes the same key
// 0.5 s later. Global tables keep the later write; so must the lab — both
// ways round. The slow region's writes go to its DynamoDB behind the fault
// proxy (the client is not the one being slowed), so they commit at once.
func TestLaterWriteWinsWhateverTheReadOrder(t *testing.T) {
	l := testLab(t)
	ctx := ctxT(t)
	p, dr := clients(t, l)
	east, err := l.region("us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	direct, err := region.New(l.Spec("us-east-1", Endpoints{DynamoDB: "http://" + east.front.Addr, S3: east.ep.S3}, 0))
	if err != nil {
		t.Fatal(err)
	}
	table := l.Names().Table()
	for _, tc := range []struct {
		name          string
		first, second *region.Clients
	}{{"the slow region writes first", direct, dr}, {"the slow region writes later", dr, direct}} {
		t.Run(tc.name, func(t *testing.T) {
			if err := l.AddLatency("us-east-1", region.DynamoDB, 3*time.Second); err != nil {
				t.Fatal(err)
			}
			keys := []string{"lww#" + tc.name + "#1", "lww#" + tc.name + "#2", "lww#" + tc.name + "#3"}
			for _, k := range keys {
				if err := putItem(ctx, tc.first, table, k, map[string]string{"v": "earlier"}); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(500 * time.Millisecond) // the gap between two clients' writes, not a wait for a condition
			for _, k := range keys {
				if err := putItem(ctx, tc.second, table, k, map[string]string{"v": "later"}); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Restore("us-east-1"); err != nil {
				t.Fatal(err)
			}
			eventually(t, 20*time.Second, "both regions hold the later write", func() (bool, string) {
				for _, k := range keys {
					a, err1 := getItem(ctx, p, table, k)
					b, err2 := getItem(ctx, dr, table, k)
					if err1 != nil || err2 != nil || a["v"] != "later" || b["v"] != "later" {
						return false, fmt.Sprintf("%s: primary %v dr %v (%v %v)", k, a, b, err1, err2)
					}
				}
				return true, ""
			})
		})
	}
}

// A put and the delete marker right after it share a LastModified second:
// the replica must end deleted too, not resurrected by copying the marker
// first (the orders service deletes an attachment whose order was refused).
func TestPutThenDeleteInOneSecondReplicatesInOrder(t *testing.T) {
	l := testLab(t)
	ctx := ctxT(t)
	p, dr := clients(t, l)
	n := l.Names()
	l.SetPaused(true) // both land in one listing
	for i := range 5 {
		key := fmt.Sprintf("orphans/%d.json", i)
		if _, err := p.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(n.Bucket(p.Name)), Key: aws.String(key), Body: bytes.NewReader([]byte("x"))}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(n.Bucket(p.Name)), Key: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
	}
	l.SetPaused(false)
	eventually(t, 10*time.Second, "every key deleted in DR, after its version", func() (bool, string) {
		for i := range 5 {
			key := fmt.Sprintf("orphans/%d.json", i)
			out, err := dr.S3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(n.Bucket(dr.Name)), Prefix: aws.String(key)})
			if err != nil {
				return false, err.Error()
			}
			latestMarker := false
			for _, m := range out.DeleteMarkers {
				latestMarker = latestMarker || aws.ToBool(m.IsLatest)
			}
			if len(out.Versions) != 1 || len(out.DeleteMarkers) != 1 || !latestMarker {
				return false, fmt.Sprintf("%s: %d versions, %d markers, marker latest %v", key, len(out.Versions), len(out.DeleteMarkers), latestMarker)
			}
		}
		return true, ""
	})
}

// The clock-skew fault shifts a region's functions' clock and the lab's
// time server keeps the true one, so a health check measures the skew it
// was given — what ClockOffsetMs and its alarm report on AWS.
func TestClockSkewIsMeasuredAgainstTheLabsTimeServer(t *testing.T) {
	l := testLab(t)
	ctx := ctxT(t)
	t.Cleanup(func() { _ = l.SetClockOffset(l.opts.DR, 0) })
	for _, skew := range []time.Duration{400 * time.Millisecond, -125 * time.Millisecond} {
		if err := l.SetClockOffset(l.opts.DR, skew); err != nil {
			t.Fatal(err)
		}
		env := config.FunctionEnv{ClockOffsetFile: l.clockFile(l.opts.DR)}
		off, rtt, err := health.MeasureClockOffset(ctx, l.timeServer.LocalAddr().String(), env.Now())
		if err != nil {
			t.Fatal(err)
		}
		if d := (off - skew).Abs(); d > rtt+time.Millisecond {
			t.Errorf("skew %s measured as %s (round trip %s)", skew, off, rtt)
		}
	}
}

// A user's table adopted by protect apply is replicated both ways, and
// again after the replicators restart (the adoption is kept on disk).
func TestAdoptedTableReplicatesAcrossRestarts(t *testing.T) {
	l := testLab(t)
	ctx := ctxT(t)
	p, dr := clients(t, l)
	table := "adopted-carts"
	for _, c := range []*region.Clients{p, dr} {
		if _, err := c.DynamoDB.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: dbtypes.BillingModePayPerRequest,
			AttributeDefinitions: []dbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: dbtypes.ScalarAttributeTypeS}},
			KeySchema:            []dbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: dbtypes.KeyTypeHash}},
			StreamSpecification:  &dbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: dbtypes.StreamViewTypeNewAndOldImages}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Replicate(ctx, replication.Adopted{Table: l.Names().Table()}); err == nil {
		t.Error("pilotlight's own table was adopted twice")
	}
	if err := l.Replicate(ctx, replication.Adopted{Table: table}); err != nil {
		t.Fatal(err)
	}
	if err := l.Replicate(ctx, replication.Adopted{Table: table}); err != nil {
		t.Fatalf("adopting again: %v", err)
	}
	if err := putItem(ctx, p, table, "cart#1", nil); err != nil {
		t.Fatal(err)
	}
	if err := putItem(ctx, dr, table, "cart#2", nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "both ways", func() (bool, string) {
		a, _ := countPrefix(ctx, dr, table, "cart#")
		b, _ := countPrefix(ctx, p, table, "cart#")
		return a == 2 && b == 2, fmt.Sprintf("dr %d, primary %d", a, b)
	})
	l.stopReplication() // a new replication.Set knows only what was recorded, as a new lab process
	if err := putItem(ctx, p, table, "cart#3", nil); err != nil {
		t.Fatal(err)
	}
	if err := l.startReplication(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "written while stopped, after the restart", func() (bool, string) {
		n, err := countPrefix(ctx, dr, table, "cart#")
		return n == 3, fmt.Sprintf("%d %v", n, err)
	})
}

// A user's bucket adopted by protect apply: the objects already there and
// those written after reach its replica, a restarted lab serves it again
// (and copies what was written while it was down), the DR region's writes
// come back during a failback, and once no longer adopted nothing is
// copied.
func TestAdoptedBucketReplicatesAcrossRestarts(t *testing.T) {
	l := testLab(t)
	ctx := ctxT(t)
	p, dr := clients(t, l)
	bucket, replica := "shop-media", "shop-media-"+dr.Name
	put := func(c *region.Clients, b, key string) {
		t.Helper()
		if _, err := c.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(key), Body: bytes.NewReader([]byte(key))}); err != nil {
			t.Fatal(err)
		}
	}
	has := func(c *region.Clients, b, key string) bool {
		_, err := c.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
		return err == nil
	}
	for _, c := range []struct {
		c *region.Clients
		b string
	}{{p, bucket}, {dr, replica}} {
		if _, err := c.c.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(c.b)}); err != nil {
			t.Fatal(err)
		}
	}
	put(p, bucket, "images/before.png")
	a := replication.Adopted{Bucket: bucket, Replica: replica}
	if err := l.Replicate(ctx, a); err == nil || !strings.Contains(err.Error(), "not versioned") {
		t.Fatalf("an unversioned bucket was adopted: %v", err)
	}
	for _, c := range []struct {
		c *region.Clients
		b string
	}{{p, bucket}, {dr, replica}} {
		if _, err := c.c.S3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(c.b),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Replicate(ctx, replication.Adopted{Bucket: l.Names().Bucket(p.Name), Replica: "x"}); err == nil {
		t.Error("pilotlight's own bucket was adopted")
	}
	if err := l.Replicate(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := l.Replicate(ctx, replication.Adopted{Bucket: bucket, Replica: "elsewhere"}); err == nil {
		t.Error("an adopted bucket was given a second replica")
	}
	put(p, bucket, "images/after.png")
	eventually(t, 10*time.Second, "before and after in the replica", func() (bool, string) {
		return has(dr, replica, "images/before.png") && has(dr, replica, "images/after.png"), ""
	})
	l.stopReplication()
	put(p, bucket, "thumbs/while-down.png")
	if err := l.startReplication(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "written while stopped, after the restart", func() (bool, string) {
		return has(dr, replica, "thumbs/while-down.png"), ""
	})
	if got := l.Status(ctx).Adopted; !slices.Contains(got, a) {
		t.Errorf("adopted after restart = %v, want %v among them", got, a)
	}
	l.SetFailback(true)
	put(dr, replica, "images/from-dr.png")
	eventually(t, 10*time.Second, "failback copies the DR region's writes back", func() (bool, string) {
		return has(p, bucket, "images/from-dr.png"), ""
	})
	l.SetFailback(false)
	if err := l.StopReplicating(ctx, a); err != nil {
		t.Fatal(err)
	}
	put(p, bucket, "images/unadopted.png")
	// Two passes of pilotlight's own bucket after the write: the pass that
	// would have copied it has finished.
	for _, m := range []string{"marker/after-unadopt-1", "marker/after-unadopt-2"} {
		put(p, l.Names().Bucket(p.Name), m)
		eventually(t, 10*time.Second, "pilotlight's own bucket still replicates", func() (bool, string) {
			return has(dr, l.Names().Bucket(dr.Name), m), ""
		})
	}
	if has(dr, replica, "images/unadopted.png") {
		t.Error("a bucket no longer adopted was still replicated")
	}
}
