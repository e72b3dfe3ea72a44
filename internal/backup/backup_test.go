package backup_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/backup"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/validate/digest"
)

func TestMain(m *testing.M) { labtest.Main(m) }

type env struct {
	t       *testing.T
	ctx     context.Context
	names   region.Names
	primary *region.Clients
	dr      *region.Clients
}

// newEnv is a table and buckets of the test's own, or, given names, those.
func newEnv(t *testing.T, names region.Names) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the lab")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	if names.App == "" {
		names = labtest.Provision(t, "bk")
	}
	p, d := labtest.Clients(t, 0)
	return &env{t: t, ctx: ctx, names: names, primary: p, dr: d}
}

func (e *env) fill(c *region.Clients, table string, n int) {
	e.t.Helper()
	items := make([]digest.Item, n)
	for i := range items {
		items[i] = item(i)
	}
	labtest.PutItems(e.t, e.ctx, c, table, items...)
}

func item(i int) digest.Item {
	it := digest.Item{
		"pk":     &types.AttributeValueMemberS{Value: fmt.Sprintf("order#%06d", i)},
		"amount": &types.AttributeValueMemberN{Value: fmt.Sprintf("%d.25", i)},
		"blob":   &types.AttributeValueMemberB{Value: []byte{byte(i), 0, 255}},
		"tags":   &types.AttributeValueMemberSS{Value: []string{"x", fmt.Sprint(i % 7)}},
		"lines": &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberM{Value: digest.Item{"qty": &types.AttributeValueMemberN{Value: "2"}, "ok": &types.AttributeValueMemberBOOL{Value: i%2 == 0}}},
			&types.AttributeValueMemberNULL{Value: true},
		}},
	}
	if i%10 == 0 {
		it["pilotlight:rep:version"] = &types.AttributeValueMemberS{Value: "1@us-west-2"}
	}
	return it
}

func (e *env) manager(c *region.Clients) *backup.Manager {
	m := backup.ForRegion(c, e.names)
	m.Segments, m.PartItems = 4, 300
	return m
}

func tableDigest(t *testing.T, ctx context.Context, c *region.Clients, table string) digest.Sum {
	t.Helper()
	s, err := backup.TableDigest(ctx, c.DynamoDB, table, []string{"pk"}, 4)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	e := newEnv(t, region.Names{})
	e.fill(e.primary, e.names.Table(), 1000)
	// A canary is not data: left out of the snapshot.
	if _, err := e.primary.DynamoDB.PutItem(e.ctx, &dynamodb.PutItemInput{TableName: aws.String(e.names.Table()),
		Item: digest.Item{"pk": &types.AttributeValueMemberS{Value: region.CanaryPrefix + "#x"}}}); err != nil {
		t.Fatal(err)
	}
	m := e.manager(e.primary)
	m.Epoch = func(context.Context) (int64, error) { return 7, nil }
	man, err := m.Create(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	src := tableDigest(t, e.ctx, e.primary, e.names.Table())
	if man.ItemCount != 1000 || man.Digest != src.String() || man.Epoch != 7 || man.SourceRegion != "us-east-1" || man.StreamViewType != "NEW_AND_OLD_IMAGES" {
		t.Fatalf("manifest: %d items, digest %s (table %s), epoch %d, region %s", man.ItemCount, man.Digest, src, man.Epoch, man.SourceRegion)
	}
	if len(man.Files) < 4 { // 1000 items, 300 per file, 4 segments
		t.Fatalf("%d files, want ≥ 4 (parts rotate at 300 items)", len(man.Files))
	}

	res, err := m.Restore(e.ctx, backup.RestoreOptions{Table: e.names.App + "-restored"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Items != 1000 || res.Digest != man.Digest || res.Snapshot != man.ID {
		t.Fatalf("restore: %+v", res)
	}
	got := tableDigest(t, e.ctx, e.primary, e.names.App+"-restored")
	if got != src {
		t.Fatalf("restored table digest %s, source %s", got, src)
	}
	// The restored table has the source's stream, as replication needs.
	dt, err := e.primary.DynamoDB.DescribeTable(e.ctx, &dynamodb.DescribeTableInput{TableName: aws.String(e.names.App + "-restored")})
	if err != nil || dt.Table.StreamSpecification == nil || !aws.ToBool(dt.Table.StreamSpecification.StreamEnabled) {
		t.Fatalf("restored table without its stream: %v", err)
	}
	// Replication stamps were stripped: the restored items are originals.
	out, err := e.primary.DynamoDB.GetItem(e.ctx, &dynamodb.GetItemInput{TableName: aws.String(e.names.App + "-restored"),
		Key: digest.Item{"pk": &types.AttributeValueMemberS{Value: "order#000010"}}})
	if err != nil || out.Item == nil {
		t.Fatalf("get: %v", err)
	}
	if _, ok := out.Item[region.AttrRepVersion]; ok {
		t.Fatal("restored item carries a replication stamp")
	}

	// Never over an existing table without --force.
	_, err = m.Restore(e.ctx, backup.RestoreOptions{Table: e.names.App + "-restored"})
	var exists *backup.ExistsError
	if !errors.As(err, &exists) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("restore over an existing table: %v", err)
	}
	// With --force, over the live table itself: back to the snapshot.
	e.fill(e.primary, e.names.Table(), 1100)
	if _, err := m.Restore(e.ctx, backup.RestoreOptions{Table: e.names.Table(), Force: true}); err != nil {
		t.Fatal(err)
	}
	if got := tableDigest(t, e.ctx, e.primary, e.names.Table()); got != src {
		t.Fatalf("forced restore: digest %s, want %s", got, src)
	}

	// The lab cannot take native backups: said plainly.
	if _, err := m.Native(e.ctx); !errors.Is(err, backup.ErrUnsupported) || !strings.Contains(err.Error(), "DynamoDB Local has no CreateBackup") {
		t.Fatalf("native: %v", err)
	}
	if _, _, err := m.PITR(e.ctx); !errors.Is(err, backup.ErrUnsupported) {
		t.Fatalf("pitr: %v", err)
	}
}

// TestCorruptSnapshotRestoresNothing: a damaged data file fails the restore
// with the file and line, and no table is left behind; verify reports it.
func TestCorruptSnapshotRestoresNothing(t *testing.T) {
	e := newEnv(t, region.Names{})
	e.fill(e.primary, e.names.Table(), 700)
	m := e.manager(e.primary)
	man, err := m.Create(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Replace the last file with a version whose third line is broken.
	f := man.Files[len(man.Files)-1]
	key := "snapshots/" + man.Table + "/" + man.ID + "/" + f.Key
	var lines bytes.Buffer
	fmt.Fprintln(&lines, `{"Item":{"pk":{"S":"a"}}}`)
	fmt.Fprintln(&lines, `{"Item":{"pk":{"S":"b"}}}`)
	fmt.Fprintln(&lines, `{"Item":{"pk":{"S":"c"},"n":{"N":"12x"}}}`)
	fmt.Fprintln(&lines, `{"Item":{"pk":{"S":"d"}}}`)
	if _, err := e.primary.S3.PutObject(e.ctx, &s3.PutObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String(key), Body: bytes.NewReader(gzipped(lines.Bytes()))}); err != nil {
		t.Fatal(err)
	}
	target := e.names.App + "-fromcorrupt"
	_, err = m.Restore(e.ctx, backup.RestoreOptions{ID: man.ID, Table: target})
	var fe *backup.FileError
	if !errors.As(err, &fe) || fe.Line != 3 || !strings.Contains(fe.File, f.Key) || !strings.Contains(err.Error(), "half-filled table was deleted") {
		t.Fatalf("restore of a corrupt snapshot: %v", err)
	}
	if _, err := e.primary.DynamoDB.DescribeTable(e.ctx, &dynamodb.DescribeTableInput{TableName: aws.String(target)}); err == nil {
		t.Fatal("a half-restored table was left behind")
	}
	v, err := m.Verify(e.ctx, man.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Passed || !strings.Contains(v.Error, "line 3") {
		t.Fatalf("verify of a corrupt snapshot: %+v", v)
	}
}

func gzipped(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// TestRestoreInDRFromReplicatedBackup: a snapshot of the primary, taken into
// the lab's replicated backup bucket, restores in the DR region without the
// primary.
func TestRestoreInDRFromReplicatedBackup(t *testing.T) {
	l := labtest.Lab(t)
	e := newEnv(t, l.Names())
	e.fill(e.primary, e.names.Table(), 200)
	man, err := e.manager(e.primary).Create(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	drm := e.manager(e.dr)
	// Wait for the lab's object replication to bring the manifest over.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := drm.Find(e.ctx, man.ID); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("snapshot never reached the DR backup bucket: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := l.Cut("us-east-1", ""); err != nil {
		t.Fatal(err)
	}
	v, err := drm.Verify(e.ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !v.Passed || v.Restored != man.ItemCount || v.Region != "us-west-2" {
		t.Fatalf("verify in DR: %+v", v)
	}
	if _, err := e.dr.DynamoDB.DescribeTable(e.ctx, &dynamodb.DescribeTableInput{TableName: aws.String(v.ScratchTable)}); err == nil {
		t.Fatal("scratch table left behind")
	}
}

func TestRetention(t *testing.T) {
	e := newEnv(t, region.Names{})
	e.fill(e.primary, e.names.Table(), 10)
	m := e.manager(e.primary)
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var ids []string
	for day := range 6 { // Nov 1 … Nov 6
		m.Now = func() time.Time { return base.Add(time.Duration(day) * 24 * time.Hour) }
		man, err := m.Create(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, man.ID)
	}
	// An incomplete snapshot (no manifest) from a crashed run, days old.
	crashed := backup.NewID(base.Add(-24 * time.Hour))
	if _, err := e.primary.S3.PutObject(e.ctx, &s3.PutObjectInput{Bucket: aws.String(m.Bucket),
		Key: aws.String("snapshots/" + e.names.Table() + "/" + crashed + "/data/0000-0000.json.gz"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	m.Now = func() time.Time { return base.Add(6*24*time.Hour + time.Hour) } // Nov 7, 13:00
	ret := backup.Retention{Keep: 4, MaxAge: 72 * time.Hour, DryRun: true}
	dry, err := m.Prune(e.ctx, ret)
	if err != nil {
		t.Fatal(err)
	}
	// Keep 4 keeps Nov 6, 5, 4, 3 by count; the 3-day limit drops Nov 4
	// (73 h old) and Nov 3 as well; the crashed run is older than an hour.
	want := []string{ids[3], ids[2], ids[1], ids[0], crashed}
	if got := idsOf(dry.Removed); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("dry run would remove %v, want %v", got, want)
	}
	if list, _ := m.List(e.ctx); len(list) != 7 {
		t.Fatalf("dry run removed something: %d left", len(list))
	}
	ret.DryRun = false
	if _, err := m.Prune(e.ctx, ret); err != nil {
		t.Fatal(err)
	}
	list, err := m.List(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := idsOf(list); strings.Join(got, " ") != strings.Join([]string{ids[5], ids[4]}, " ") {
		t.Fatalf("left %v", got)
	}
	// Every version is gone, not hidden behind delete markers.
	vs, err := e.primary.S3.ListObjectVersions(e.ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(m.Bucket), Prefix: aws.String("snapshots/" + e.names.Table() + "/" + ids[0])})
	if err != nil || len(vs.Versions)+len(vs.DeleteMarkers) != 0 {
		t.Fatalf("pruned snapshot still has %d versions, %d markers (%v)", len(vs.Versions), len(vs.DeleteMarkers), err)
	}
	// The newest snapshot survives any rule.
	m.Now = func() time.Time { return base.Add(365 * 24 * time.Hour) }
	res, err := m.Prune(e.ctx, backup.Retention{Keep: 1, MaxAge: time.Hour})
	if err != nil || len(res.Kept) != 1 || res.Kept[0].ID != ids[5] {
		t.Fatalf("prune everything old: kept %v (%v)", idsOf(res.Kept), err)
	}
}

func idsOf(s []backup.Snapshot) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = x.ID
	}
	return out
}

// The schedule's run snapshots, prunes and tests the restore of the new
// snapshot, and emits both datapoints the backup alarms watch: BackupItems
// and RestoreTestOK. (At aa72caa nothing on AWS ran a restore test, so the
// restore-test alarm could never fire.)
func TestScheduledRunTestsTheRestore(t *testing.T) {
	e := newEnv(t, region.Names{})
	e.fill(e.primary, e.names.Table(), 50)
	var out bytes.Buffer
	f := backup.Function{Manager: e.manager(e.primary), Region: e.primary.Name, Keep: 7, MaxAge: 24 * time.Hour, Out: &out}
	res, err := f.Handle(e.ctx, []byte(`{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","account":"000000000000","time":"2026-12-03T00:00:00Z","region":"us-east-1","resources":[],"detail":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	r := res.(map[string]any)
	v, ok := r["verify"].(*backup.VerifyResult)
	if !ok || !v.Passed || v.Snapshot != r["snapshot"].(*backup.Manifest).ID {
		t.Fatalf("scheduled run: %+v", r)
	}
	for _, metric := range []string{`"BackupItems"`, `"RestoreTestOK"`} {
		if !strings.Contains(out.String(), metric) {
			t.Errorf("the scheduled run emitted no %s:\n%s", metric, out.String())
		}
	}
}
