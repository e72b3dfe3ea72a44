package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/region"
)

// The object replicator stands in for S3 cross-region replication. It copies
// every new object version (and delete marker) of the primary's data and
// backup buckets to the DR region's, and — once failback replication is on —
// the DR region's new versions back, like a reverse replication rule plus
// S3 Batch Replication for what was written in the meantime. versitygw keeps
// no replication configuration and sends no events, so the replicator lists
// versions; the lab keeps the configuration.
//
// Position: per direction and bucket, the source version IDs already copied,
// and the destination version IDs the replicator created (replicas are never
// replicated again). Saved after every copy; before copying, the replicator
// checks whether the destination already holds the version (a copy made just
// before a crash), so a restart neither repeats nor skips one.

type objectReplicator struct {
	l    *Lab
	log  *slog.Logger
	path string

	mu        sync.Mutex
	lag       time.Duration
	paused    bool
	failback  bool
	pos       objectPosition
	firstSeen map[string]time.Time // source version id -> when first listed
	dirty     bool                 // position changed since the last save
	copies    int                  // versions copied so far (busy detection)
	stats     map[string]*DirectionStatus
	kick      chan struct{} // a pass now, not at the next interval
}

type objectPosition struct {
	// Copied: "from>to" -> bucket suffix kind -> key -> source version ids.
	Copied map[string]map[string]map[string][]string `json:"copied"`
	// Created: region -> kind -> key -> version ids the replicator made there.
	Created map[string]map[string]map[string][]string `json:"created"`
}

type bucketKind string

const (
	kindData   bucketKind = "data"
	kindBackup bucketKind = "backup"
)

func (o *objectReplicator) bucket(kind bucketKind, regionName string) string {
	if kind == kindBackup {
		return o.l.opts.Names.BackupBucket(regionName)
	}
	return o.l.opts.Names.Bucket(regionName)
}

func newObjectReplicator(l *Lab, path string) (*objectReplicator, error) {
	o := &objectReplicator{l: l, log: l.log.With("component", "object-replicator"), path: path, lag: l.opts.Lag,
		firstSeen: map[string]time.Time{}, stats: map[string]*DirectionStatus{}, kick: make(chan struct{}, 1)}
	o.pos = objectPosition{Copied: map[string]map[string]map[string][]string{}, Created: map[string]map[string]map[string][]string{}}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err == nil {
		if err := json.Unmarshal(b, &o.pos); err != nil {
			return nil, fmt.Errorf("object replication position %s is corrupt (%v): delete it to replicate every version again", path, err)
		}
	}
	p, dr := l.opts.Primary, l.opts.DR
	o.stats[p+">"+dr] = &DirectionStatus{Kind: "objects", From: p, To: dr, Enabled: true}
	o.stats[dr+">"+p] = &DirectionStatus{Kind: "objects", From: dr, To: p}
	return o, nil
}

// Object polling: every 50 ms while there is work, slowing to once a
// second when idle (listing every version of a bucket is what costs: a lab
// left running should not keep a core busy), back to 50 ms on the first
// new version.
const (
	objectPoll     = 50 * time.Millisecond
	objectIdlePoll = time.Second
)

func (o *objectReplicator) run(ctx context.Context) {
	p, dr := o.l.opts.Primary, o.l.opts.DR
	interval := objectPoll
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		case <-o.kick:
			interval = objectPoll
		}
		o.mu.Lock()
		failback := o.failback
		o.mu.Unlock()
		busy := o.step(ctx, p, dr)
		if failback {
			busy = o.step(ctx, dr, p) || busy
		}
		if busy {
			interval = objectPoll
		} else {
			interval = min(interval*2, objectIdlePoll)
		}
	}
}

// step replicates one direction once and reports whether it found work.
func (o *objectReplicator) step(ctx context.Context, from, to string) bool {
	if o.l.isCut(from, region.S3) {
		return false // its replication pipeline is down with it
	}
	started := time.Now().UTC()
	o.mu.Lock()
	before := o.copies
	o.mu.Unlock()
	st := o.stats[from+">"+to]
	var firstErr error
	pending, oldest, written := 0, time.Time{}, time.Time{}
	for _, kind := range []bucketKind{kindData, kindBackup} {
		n, old, wr, err := o.replicateBucket(ctx, kind, from, to)
		pending += n
		if !old.IsZero() && (oldest.IsZero() || old.Before(oldest)) {
			oldest = old
		}
		if !wr.IsZero() && (written.IsZero() || wr.Before(written)) {
			written = wr
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	o.mu.Lock()
	st.Pending = pending
	st.OldestPendingMs = 0
	if !oldest.IsZero() {
		st.OldestPendingMs = time.Since(oldest).Milliseconds()
	}
	if firstErr != nil {
		st.LastError = firstErr.Error()
	} else {
		st.LastError = ""
		st.PassAt, st.OldestPendingWritten = started, written
	}
	busy := pending > 0 || o.copies != before || firstErr != nil
	o.mu.Unlock()
	return busy
}

type srcVersion struct {
	key, id  string
	marker   bool
	latest   bool // IsLatest: the key's current version or marker
	modified time.Time
	order    int // position in its listing: newest first
}

// replicateBucket copies due versions of one bucket; it returns how many
// versions are still pending and when the oldest was first seen.
func (o *objectReplicator) replicateBucket(ctx context.Context, kind bucketKind, from, to string) (int, time.Time, time.Time, error) {
	src, err := o.l.region(from)
	if err != nil {
		return 0, time.Time{}, time.Time{}, err
	}
	dst, err := o.l.region(to)
	if err != nil {
		return 0, time.Time{}, time.Time{}, err
	}
	versions, err := o.list(ctx, src.clients, o.bucket(kind, from))
	if err != nil {
		return 0, time.Time{}, time.Time{}, err
	}
	o.mu.Lock()
	lag, paused := o.lag, o.paused
	dirKey := from + ">" + to
	copied := o.pos.copiedSet(dirKey, string(kind))
	created := o.pos.createdSet(from, string(kind))
	now := time.Now()
	var due []srcVersion
	pending, oldest, written := 0, time.Time{}, time.Time{}
	for _, v := range versions {
		if strings.HasPrefix(v.key, region.CanaryPrefix) || slices.Contains(copied[v.key], v.id) || slices.Contains(created[v.key], v.id) {
			continue
		}
		seen, ok := o.firstSeen[v.id]
		if !ok {
			seen = now
			o.firstSeen[v.id] = now
		}
		if paused || seen.Add(lag).After(now) {
			pending++
			if oldest.IsZero() || seen.Before(oldest) {
				oldest = seen
			}
			if written.IsZero() || v.modified.Before(written) {
				written = v.modified
			}
			continue
		}
		due = append(due, v)
	}
	o.mu.Unlock()
	if len(due) == 0 {
		return pending, oldest, written, nil
	}
	defer func() {
		if err := o.save(); err != nil {
			o.log.Error("save object replication position", "err", err)
		}
	}()
	// Keys copy in parallel; the versions of one key in order, oldest first.
	var keys [][]srcVersion
	for _, v := range due {
		if n := len(keys); n > 0 && keys[n-1][0].key == v.key {
			keys[n-1] = append(keys[n-1], v)
		} else {
			keys = append(keys, []srcVersion{v})
		}
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
		errs   []error
	)
	next := make(chan []srcVersion)
	for range min(8, len(keys)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for vs := range next {
				for i, v := range vs {
					if err := o.copyVersion(ctx, kind, src, dst, v); err != nil {
						mu.Lock()
						failed += len(vs) - i
						errs = append(errs, err)
						for _, f := range vs[i:] {
							if written.IsZero() || f.modified.Before(written) {
								written = f.modified
							}
						}
						mu.Unlock()
						break
					}
				}
			}
		}()
	}
	for _, vs := range keys {
		next <- vs
	}
	close(next)
	wg.Wait()
	o.mu.Lock()
	o.copies += len(due) - failed
	o.mu.Unlock()
	return pending + failed, oldest, written, errors.Join(errs...)
}

// list returns a bucket's versions, oldest first within each key.
// list returns every version and delete marker of a bucket, except under
// the canary prefix: the top level is listed with a "/" delimiter and each
// folder but the canaries' on its own, so the probes' ever-growing canary
// history is never read.
func (o *objectReplicator) list(ctx context.Context, c *region.Clients, bucket string) ([]srcVersion, error) {
	var out []srcVersion
	folders, err := o.listInto(ctx, c, bucket, "", "/", &out)
	if err != nil {
		return nil, err
	}
	for _, f := range folders {
		if strings.HasPrefix(f, region.CanaryPrefix) {
			continue
		}
		if _, err := o.listInto(ctx, c, bucket, f, "", &out); err != nil {
			return nil, err
		}
	}
	// Listings are newest first per key; copies must go oldest first so the
	// destination's latest version matches the source's.
	sortVersions(out)
	return out, nil
}

func (o *objectReplicator) listInto(ctx context.Context, c *region.Clients, bucket, prefix, delimiter string, out *[]srcVersion) ([]string, error) {
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	if delimiter != "" {
		in.Delimiter = aws.String(delimiter)
	}
	var folders []string
	for {
		cctx, cancel := callCtx(ctx)
		page, err := c.S3.ListObjectVersions(cctx, in)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("list versions of %s in %s: %w", bucket, c.Name, err)
		}
		for _, v := range page.Versions {
			*out = append(*out, srcVersion{key: aws.ToString(v.Key), id: aws.ToString(v.VersionId), modified: aws.ToTime(v.LastModified), latest: aws.ToBool(v.IsLatest), order: len(*out)})
		}
		for _, m := range page.DeleteMarkers {
			*out = append(*out, srcVersion{key: aws.ToString(m.Key), id: aws.ToString(m.VersionId), marker: true, modified: aws.ToTime(m.LastModified), latest: aws.ToBool(m.IsLatest), order: len(*out)})
		}
		for _, cp := range page.CommonPrefixes {
			folders = append(folders, aws.ToString(cp.Prefix))
		}
		if !aws.ToBool(page.IsTruncated) {
			return folders, nil
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
	}
}

func (o *objectReplicator) copyVersion(ctx context.Context, kind bucketKind, src, dst *labRegion, v srcVersion) error {
	dbucket := o.bucket(kind, dst.name)
	var newID string
	if v.marker {
		cctx, cancel := callCtx(ctx)
		out, err := dst.clients.S3.DeleteObject(cctx, &s3.DeleteObjectInput{Bucket: aws.String(dbucket), Key: aws.String(v.key)})
		cancel()
		if err != nil {
			return fmt.Errorf("replicate delete marker %s to %s: %w", v.key, dst.name, err)
		}
		newID = aws.ToString(out.VersionId)
	} else {
		done, id, err := o.alreadyCopied(ctx, dst, dbucket, v)
		if err != nil {
			return err
		}
		if !done {
			id, err = o.copyObject(ctx, kind, src, dst, dbucket, v)
			if err != nil {
				return err
			}
		}
		newID = id
	}
	o.mu.Lock()
	dirKey := src.name + ">" + dst.name
	o.pos.copiedSet(dirKey, string(kind))[v.key] = append(o.pos.copiedSet(dirKey, string(kind))[v.key], v.id)
	if newID != "" {
		cs := o.pos.createdSet(dst.name, string(kind))
		cs[v.key] = append(cs[v.key], newID)
	}
	seen := o.firstSeen[v.id]
	delete(o.firstSeen, v.id)
	st := o.stats[dirKey]
	st.Applied++
	st.LastApplied = time.Now()
	st.LastLagMs = time.Since(seen).Milliseconds()
	o.dirty = true
	o.mu.Unlock()
	return nil
}

// save writes the position if it changed. It runs after each pass over a
// bucket; a copy made but not saved before a crash is found again by
// alreadyCopied and not repeated.
func (o *objectReplicator) save() error {
	o.mu.Lock()
	if !o.dirty {
		o.mu.Unlock()
		return nil
	}
	b, err := json.Marshal(o.pos)
	o.dirty = false
	o.mu.Unlock()
	if err != nil {
		return err
	}
	return writeFileAtomic(o.path, b)
}

// alreadyCopied reports whether the destination's latest version of the key
// is a replica of v (a copy made just before a restart).
func (o *objectReplicator) alreadyCopied(ctx context.Context, dst *labRegion, bucket string, v srcVersion) (bool, string, error) {
	cctx, cancel := callCtx(ctx)
	defer cancel()
	h, err := dst.clients.S3.HeadObject(cctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(v.key)})
	if err != nil {
		var nf *s3types.NotFound
		var nk *s3types.NoSuchKey
		if errors.As(err, &nf) || errors.As(err, &nk) || isStatus(err, 404) || isStatus(err, 405) {
			return false, "", nil
		}
		return false, "", fmt.Errorf("head %s in %s: %w", v.key, dst.name, err)
	}
	if h.Metadata[region.MetaSourceVersion] == v.id {
		return true, aws.ToString(h.VersionId), nil
	}
	return false, "", nil
}

func (o *objectReplicator) copyObject(ctx context.Context, kind bucketKind, src, dst *labRegion, dbucket string, v srcVersion) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	get, err := src.clients.S3.GetObject(cctx, &s3.GetObjectInput{Bucket: aws.String(o.bucket(kind, src.name)), Key: aws.String(v.key), VersionId: aws.String(v.id)})
	if err != nil {
		return "", fmt.Errorf("read %s version %s in %s: %w", v.key, v.id, src.name, err)
	}
	body, err := io.ReadAll(get.Body)
	get.Body.Close()
	if err != nil {
		return "", fmt.Errorf("read %s version %s in %s: %w", v.key, v.id, src.name, err)
	}
	meta := map[string]string{}
	for k, val := range get.Metadata {
		meta[k] = val
	}
	meta[region.MetaSourceRegion] = src.name
	meta[region.MetaSourceVersion] = v.id
	put, err := dst.clients.S3.PutObject(cctx, &s3.PutObjectInput{
		Bucket:        aws.String(dbucket),
		Key:           aws.String(v.key),
		Body:          bytesReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   get.ContentType,
		Metadata:      meta,
	})
	if err != nil {
		return "", fmt.Errorf("write %s to %s: %w", v.key, dst.name, err)
	}
	return aws.ToString(put.VersionId), nil
}

func (p *objectPosition) copiedSet(dir, kind string) map[string][]string {
	if p.Copied[dir] == nil {
		p.Copied[dir] = map[string]map[string][]string{}
	}
	if p.Copied[dir][kind] == nil {
		p.Copied[dir][kind] = map[string][]string{}
	}
	return p.Copied[dir][kind]
}

func (p *objectPosition) createdSet(regionName, kind string) map[string][]string {
	if p.Created[regionName] == nil {
		p.Created[regionName] = map[string]map[string][]string{}
	}
	if p.Created[regionName][kind] == nil {
		p.Created[regionName][kind] = map[string][]string{}
	}
	return p.Created[regionName][kind]
}

func (o *objectReplicator) setLag(d time.Duration) {
	o.mu.Lock()
	o.lag = d
	o.mu.Unlock()
}

// poke starts a pass at once (a drain is waiting for one) and keeps
// polling at the busy rate.
func (o *objectReplicator) poke() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

func (o *objectReplicator) setPaused(p bool) {
	o.mu.Lock()
	o.paused = p
	o.mu.Unlock()
}

func (o *objectReplicator) setFailback(on bool) {
	o.mu.Lock()
	o.failback = on
	o.stats[o.l.opts.DR+">"+o.l.opts.Primary].Enabled = on
	o.mu.Unlock()
}

func (o *objectReplicator) status() []DirectionStatus {
	o.mu.Lock()
	defer o.mu.Unlock()
	p, dr := o.l.opts.Primary, o.l.opts.DR
	out := []DirectionStatus{*o.stats[p+">"+dr], *o.stats[dr+">"+p]}
	for i := range out {
		out[i].Paused = o.paused
	}
	return out
}
