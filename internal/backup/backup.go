package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/validate"
	"github.com/pilotlight/pilotlight/internal/validate/digest"
)

// Manager takes, lists, restores and prunes snapshots of one table, with
// the backup bucket of the region its clients reach. Snapshots taken in the
// primary replicate to the DR region's backup bucket, so a Manager for the
// DR region restores there without the primary.
type Manager struct {
	DB     *dynamodb.Client
	S3     *s3.Client
	Region string
	Table  string // the table snapshots are taken of
	Bucket string // the backup bucket in this region
	// Segments is the parallel-scan split (default 8).
	Segments int
	// PartItems bounds the items of one data file (default 100,000), and so
	// the memory a segment holds while writing.
	PartItems int
	// Writers is the number of concurrent batch writers of a restore
	// (default 16).
	Writers int
	// Epoch reports the active epoch to record in the manifest (optional).
	Epoch func(context.Context) (int64, error)
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// Progress, when set, hears about long work.
	Progress func(format string, args ...any)
}

// ForRegion is a Manager for the protected table and backup bucket of the
// region c reaches.
func ForRegion(c *region.Clients, names region.Names) *Manager {
	return &Manager{DB: c.DynamoDB, S3: c.S3, Region: c.Name, Table: names.Table(), Bucket: names.BackupBucket(c.Name)}
}

// ForDeployment is ForRegion recording in each manifest the active epoch,
// read from the region's control record: the manager the backup function
// and the CLI run.
func ForDeployment(c *region.Clients, names region.Names) *Manager {
	m := ForRegion(c, names)
	store := control.New(c, names)
	m.Epoch = func(ctx context.Context) (int64, error) {
		a, err := store.Active(ctx)
		return a.Epoch, err
	}
	return m
}

func (m *Manager) defaults() {
	if m.Segments <= 0 {
		m.Segments = 8
	}
	if m.PartItems <= 0 {
		m.PartItems = 100000
	}
	if m.Writers <= 0 {
		m.Writers = 16
	}
	if m.Now == nil {
		m.Now = time.Now
	}
}

func (m *Manager) progress(format string, args ...any) {
	if m.Progress != nil {
		m.Progress(format, args...)
	}
}

// ErrUnsupported is returned for what the target has no API for.
var ErrUnsupported = errors.New("not supported by this target")

// prefix is where a table's snapshots live in the backup bucket.
func prefix(table string) string { return "snapshots/" + table + "/" }

// NewID returns a snapshot ID that sorts by time: 20261126T110102.123Z-1a2b.
func NewID(t time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b[:])
}

// idTime reads the time back from an ID.
func idTime(id string) (time.Time, bool) {
	stamp, _, _ := strings.Cut(id, "-")
	t, err := time.Parse("20060102T150405.000Z", stamp)
	return t, err == nil
}

// Create takes a snapshot: parallel segmented scans, each segment writing
// gzipped DynamoDB-JSON-lines files, then the manifest, last. A failure
// removes what was written.
func (m *Manager) Create(ctx context.Context) (*Manifest, error) {
	m.defaults()
	start := m.Now()
	man, err := m.newManifest(ctx, start)
	if err != nil {
		return nil, err
	}
	base := prefix(m.Table) + man.ID + "/"
	type segState struct {
		w     *fileWriter
		part  int
		files []DataFile
		sum   digest.Sum
		h     digest.Hasher
	}
	segs := make([]segState, m.Segments)
	names := man.KeyNames()
	for i := range segs {
		segs[i].h = digest.Hasher{Keys: names, Buckets: 1}
	}
	flush := func(seg int) error {
		s := &segs[seg]
		if s.w == nil || s.w.items == 0 {
			return nil
		}
		body, sum, err := s.w.close()
		if err != nil {
			return err
		}
		key := fmt.Sprintf("data/%04d-%04d.json.gz", seg, s.part)
		if _, err := m.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String(base + key),
			Body: bytes.NewReader(body), ContentType: aws.String("application/gzip")}); err != nil {
			return fmt.Errorf("write %s to s3://%s: %w", key, m.Bucket, err)
		}
		s.files = append(s.files, DataFile{Key: key, Items: s.w.items, Bytes: int64(len(body)), SHA256: sum})
		s.part++
		s.w = nil
		return nil
	}
	var mu sync.Mutex
	var total int64
	err = validate.Scan(ctx, m.DB, m.Table, validate.AllSegments(m.Segments), false, func(seg int, page []map[string]dbtypes.AttributeValue) error {
		s := &segs[seg]
		for _, it := range page {
			if validate.IsCanary(it, names[0]) {
				continue
			}
			if s.w == nil {
				s.w = newFileWriter()
			}
			if err := s.w.add(it); err != nil {
				return err
			}
			ih, _ := s.h.Item(it)
			s.sum.AddItem(ih)
			if s.w.items >= int64(m.PartItems) {
				if err := flush(seg); err != nil {
					return err
				}
			}
		}
		mu.Lock()
		total += int64(len(page))
		if total%50000 < int64(len(page)) {
			m.progress("snapshot %s: %d items read", man.ID, total)
		}
		mu.Unlock()
		return nil
	})
	for seg := range segs {
		if err == nil {
			err = flush(seg)
		}
	}
	if err != nil {
		m.cleanup(base)
		return nil, fmt.Errorf("snapshot of %s in %s: %w", m.Table, m.Region, err)
	}
	var sum digest.Sum
	for _, s := range segs {
		man.Files = append(man.Files, s.files...)
		sum.Add(s.sum)
	}
	sort.Slice(man.Files, func(i, j int) bool { return man.Files[i].Key < man.Files[j].Key })
	man.ItemCount, man.Digest = sum.Count, sum.String()
	man.Seconds = m.Now().Sub(start).Seconds()
	if err := m.writeManifest(ctx, base, man); err != nil {
		m.cleanup(base)
		return nil, err
	}
	return man, nil
}

// newManifest begins a snapshot's manifest at start: the table's keys and
// stream, the region, the active epoch.
func (m *Manager) newManifest(ctx context.Context, start time.Time) (*Manifest, error) {
	keys, stream, err := keySchema(ctx, m.DB, m.Table)
	if err != nil {
		return nil, err
	}
	man := &Manifest{Format: Format, ID: NewID(start), Table: m.Table, Keys: keys, StreamViewType: stream, SourceRegion: m.Region,
		Created: start.UTC(), ExportFormat: "DYNAMODB_JSON"}
	if m.Epoch != nil {
		if man.Epoch, err = m.Epoch(ctx); err != nil {
			return nil, fmt.Errorf("read the active epoch: %w", err)
		}
	}
	return man, nil
}

// writeManifest writes the manifest last: a snapshot without one is not
// a snapshot.
func (m *Manager) writeManifest(ctx context.Context, base string, man *Manifest) error {
	body, _ := json.MarshalIndent(man, "", "  ")
	if _, err := m.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String(base + "manifest.json"),
		Body: bytes.NewReader(body), ContentType: aws.String("application/json")}); err != nil {
		return fmt.Errorf("write the manifest to s3://%s: %w", m.Bucket, err)
	}
	return nil
}

// cleanup removes a failed snapshot's objects, best effort, with a context
// of its own (the caller's may be what failed).
func (m *Manager) cleanup(base string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = m.deletePrefix(ctx, base)
}

// keySchema returns a table's key attributes (hash key first) and its
// stream view type ("" without a stream).
func keySchema(ctx context.Context, db *dynamodb.Client, table string) ([]KeyAttr, string, error) {
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return nil, "", fmt.Errorf("describe table %s: %w", table, err)
	}
	types := map[string]string{}
	for _, a := range out.Table.AttributeDefinitions {
		types[aws.ToString(a.AttributeName)] = string(a.AttributeType)
	}
	var keys []KeyAttr
	for _, k := range out.Table.KeySchema {
		ka := KeyAttr{Name: aws.ToString(k.AttributeName), Type: types[aws.ToString(k.AttributeName)]}
		if k.KeyType == dbtypes.KeyTypeHash {
			keys = append([]KeyAttr{ka}, keys...)
		} else {
			keys = append(keys, ka)
		}
	}
	stream := ""
	if ss := out.Table.StreamSpecification; ss != nil && aws.ToBool(ss.StreamEnabled) {
		stream = string(ss.StreamViewType)
	}
	return keys, stream, nil
}

// Snapshot is a listed snapshot: its manifest, or, for one whose manifest
// was never written (a crashed run), only its ID.
type Snapshot struct {
	ID         string    `json:"id"`
	Created    time.Time `json:"created"`
	Incomplete bool      `json:"incomplete,omitempty"`
	Manifest   *Manifest `json:"manifest,omitempty"`
}

// List returns the table's snapshots in this region's backup bucket,
// newest first.
func (m *Manager) List(ctx context.Context) ([]Snapshot, error) {
	m.defaults()
	var out []Snapshot
	p := s3.NewListObjectsV2Paginator(m.S3, &s3.ListObjectsV2Input{Bucket: aws.String(m.Bucket), Prefix: aws.String(prefix(m.Table)), Delimiter: aws.String("/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list snapshots in s3://%s: %w", m.Bucket, err)
		}
		for _, cp := range page.CommonPrefixes {
			id := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix(m.Table)), "/")
			created, ok := idTime(id)
			if !ok {
				continue // not ours
			}
			s := Snapshot{ID: id, Created: created}
			man, err := m.manifest(ctx, id)
			var nf *s3types.NoSuchKey
			switch {
			case errors.As(err, &nf):
				s.Incomplete = true
			case err != nil:
				return nil, err
			default:
				s.Manifest = man
			}
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}

func (m *Manager) manifest(ctx context.Context, id string) (*Manifest, error) {
	key := prefix(m.Table) + id + "/manifest.json"
	obj, err := m.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer obj.Body.Close()
	body, err := io.ReadAll(io.LimitReader(obj.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", m.Bucket, key, err)
	}
	var man Manifest
	if err := json.Unmarshal(body, &man); err != nil {
		return nil, fmt.Errorf("manifest s3://%s/%s is not valid JSON: %w", m.Bucket, key, err)
	}
	if err := man.Check(); err != nil {
		return nil, fmt.Errorf("manifest s3://%s/%s: %w", m.Bucket, key, err)
	}
	return &man, nil
}

// Find returns the manifest of a snapshot by ID, or of the newest complete
// one when id is "" or "latest".
func (m *Manager) Find(ctx context.Context, id string) (*Manifest, error) {
	if id != "" && id != "latest" {
		man, err := m.manifest(ctx, id)
		var nf *s3types.NoSuchKey
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("snapshot %s of %s not found (or incomplete) in s3://%s: `pilotlight backup list` shows what there is", id, m.Table, m.Bucket)
		}
		return man, err
	}
	list, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range list {
		if s.Manifest != nil {
			return s.Manifest, nil
		}
	}
	return nil, fmt.Errorf("no complete snapshot of %s in s3://%s: take one with `pilotlight backup create` (one taken in the other region arrives here by replication within seconds)", m.Table, m.Bucket)
}

// deletePrefix removes every version and delete marker under a prefix.
func (m *Manager) deletePrefix(ctx context.Context, pfx string) error {
	_, err := region.DeleteVersions(ctx, m.S3, m.Bucket, pfx)
	return err
}

func isUnknownOperation(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "UnknownOperationException"
}

// Native starts an on-demand DynamoDB backup of the table and returns its
// ARN. DynamoDB Local has no backups: that is ErrUnsupported, said plainly.
func (m *Manager) Native(ctx context.Context) (string, error) {
	m.defaults()
	name := "pilotlight-" + strings.ReplaceAll(NewID(m.Now()), ".", "")
	out, err := m.DB.CreateBackup(ctx, &dynamodb.CreateBackupInput{TableName: aws.String(m.Table), BackupName: aws.String(name)})
	if isUnknownOperation(err) {
		return "", fmt.Errorf("native on-demand backups (CreateBackup) of %s in %s: %w: DynamoDB Local has no CreateBackup; the lab keeps logical snapshots (`pilotlight backup create`) only", m.Table, m.Region, ErrUnsupported)
	}
	if err != nil {
		return "", fmt.Errorf("create an on-demand backup of %s in %s: %w", m.Table, m.Region, err)
	}
	return aws.ToString(out.BackupDetails.BackupArn), nil
}

// PITR reports whether point-in-time recovery is on for the table, and the
// earliest restorable time when it is.
func (m *Manager) PITR(ctx context.Context) (bool, time.Time, error) {
	out, err := m.DB.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(m.Table)})
	if isUnknownOperation(err) {
		return false, time.Time{}, fmt.Errorf("point-in-time recovery of %s in %s: %w: DynamoDB Local has no PITR; on AWS the stacks turn it on", m.Table, m.Region, ErrUnsupported)
	}
	if err != nil {
		return false, time.Time{}, fmt.Errorf("describe continuous backups of %s in %s: %w", m.Table, m.Region, err)
	}
	d := out.ContinuousBackupsDescription
	if d == nil || d.PointInTimeRecoveryDescription == nil || d.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus != dbtypes.PointInTimeRecoveryStatusEnabled {
		return false, time.Time{}, nil
	}
	return true, aws.ToTime(d.PointInTimeRecoveryDescription.EarliestRestorableDateTime), nil
}

// joinKey is the object key of a snapshot file.
func joinKey(table, id, file string) string { return path.Join(prefix(table)+id, file) }
