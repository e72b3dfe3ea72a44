// Command data benchmarks the data-integrity tools on the lab: the
// validator's wall time against two references measured in the same run —
// the floor (a raw parallel scan of both tables with the same segment count,
// doing nothing with the items) and the baseline a user would reach for
// (`aws dynamodb scan` of both tables, one item per line, sorted, diffed) —
// the validator's peak RSS at a larger table (a child process, so the
// figure is its own), and snapshot and restore throughput.
//
//	go run ./bench/data [-items 100000] [-rss-items 1000000] [-segments 8]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/backup"
	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/lab/server"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/validate"
)

// child is what the parent passes to the child that validates for the RSS
// measurement.
type child struct {
	Table     string                   `json:"table"`
	Endpoints map[string]lab.Endpoints `json:"endpoints"`
	Creds     lab.Credentials          `json:"creds"`
	Segments  int                      `json:"segments"`
}

func main() {
	items := flag.Int("items", 100000, "items per region for the timing")
	rssItems := flag.Int("rss-items", 1000000, "items per region for the peak-RSS run (0 skips it)")
	segments := flag.Int("segments", 8, "parallel-scan segments per table")
	awsBin := flag.String("aws", "/usr/bin/aws", "AWS CLI for the baseline (empty skips it)")
	sweep := flag.Bool("sweep", false, "only time raw scans at 2, 4, 8 and 16 segments (to choose --segments)")
	flag.Parse()
	if c := os.Getenv("BENCH_DATA_CHILD"); c != "" {
		runChild(c)
		return
	}
	cache := server.DefaultCacheDir()
	sv, err := server.Find(cache)
	if err != nil {
		fail(err)
	}
	dir, err := os.MkdirTemp("", "pilotlight-bench-data-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	// DynamoDB Local keeps in-memory tables on its heap: size it for the
	// largest table (two copies during the restore).
	heap := max(*items, *rssItems) * 3 / 1000
	l, err := lab.Start(ctx, lab.Options{Primary: "us-east-1", DR: "us-west-2", Dir: dir, Servers: sv, Logger: slog.New(slog.DiscardHandler), DynamoDBHeapMB: max(heap, 512)})
	if err != nil {
		fail(err)
	}
	defer l.Close()
	// Tables and buckets of their own: not replicated, so the bench controls
	// both sides. The tables have no stream (nothing reads it here), which
	// makes DynamoDB Local take writes about twice as fast.
	names := region.Names{App: "benchdata"}
	cl := map[string]*region.Clients{}
	for _, r := range l.Regions() {
		if cl[r], err = l.Clients(r, 0); err != nil {
			fail(err)
		}
		// A composite key, as applications have: a string partition (the
		// customer) and a number sort key (the order's number).
		if _, err := cl[r].DynamoDB.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(names.Table()), BillingMode: dbtypes.BillingModePayPerRequest,
			AttributeDefinitions: []dbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: dbtypes.ScalarAttributeTypeS}, {AttributeName: aws.String("sk"), AttributeType: dbtypes.ScalarAttributeTypeN}},
			KeySchema:            []dbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: dbtypes.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: dbtypes.KeyTypeRange}}}); err != nil {
			fail(err)
		}
		if _, err := cl[r].S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(names.BackupBucket(r))}); err != nil {
			fail(err)
		}
	}

	fmt.Printf("## data integrity (%d items per region, %d segments)\n\n", *items, *segments)
	start := time.Now()
	for _, r := range l.Regions() {
		if err := load(ctx, cl[r], names.Table(), 0, *items); err != nil {
			fail(err)
		}
	}
	fmt.Printf("loaded %d items into each region in %.1fs\n\n", *items, time.Since(start).Seconds())

	v := &validate.Validator{Primary: validate.SideFor(cl["us-east-1"], names, false), DR: validate.SideFor(cl["us-west-2"], names, false), Segments: *segments, Settle: -1}
	if *sweep {
		for range 2 {
			for _, n := range []int{2, 4, 8, 16} {
				t0, c0 := time.Now(), cpuSeconds()
				if _, err := rawScan(ctx, cl, names.Table(), n); err != nil {
					fail(err)
				}
				fmt.Printf("raw scan, %2d segments per table: %.2fs (this process: %.2f CPU s)\n", n, time.Since(t0).Seconds(), cpuSeconds()-c0)
			}
		}
		return
	}
	fm, vm, err := cleanFigures(ctx, cl, names, v, *items, *segments)
	if err != nil {
		fail(err)
	}
	if err := divergenceFigures(ctx, l, cl, names, v, fm, vm, *awsBin); err != nil {
		fail(err)
	}
	if err := backupFigures(ctx, cl, names, *segments); err != nil {
		fail(err)
	}

	if *rssItems > 0 {
		if err := rss(ctx, l, cl, names, *items, *rssItems, *segments); err != nil {
			fail(err)
		}
	}
}

// cleanFigures warms DynamoDB Local up, then times the raw parallel scan of
// both tables (the floor) and the validator on clean tables, five times
// each, and prints their medians: fm and vm.
func cleanFigures(ctx context.Context, cl map[string]*region.Clients, names region.Names, v *validate.Validator, items, segments int) (fm, vm time.Duration, err error) {
	// DynamoDB Local is a JVM: the first scans run cold and several times
	// slower. Warm it up before measuring anything.
	for range 2 {
		if _, err := rawScan(ctx, cl, names.Table(), segments); err != nil {
			return 0, 0, err
		}
		if _, err := v.Run(ctx); err != nil {
			return 0, 0, err
		}
	}
	var floor, valid []time.Duration
	for range 5 {
		t0 := time.Now()
		n, err := rawScan(ctx, cl, names.Table(), segments)
		if err != nil {
			return 0, 0, err
		}
		floor = append(floor, time.Since(t0))
		if n != 2*items {
			return 0, 0, fmt.Errorf("raw scan saw %d items, want %d", n, 2*items)
		}
		t0 = time.Now()
		rep, err := v.Run(ctx)
		if err != nil {
			return 0, 0, err
		}
		valid = append(valid, time.Since(t0))
		if !rep.Clean() || rep.Items["us-east-1"] != int64(items) {
			return 0, 0, fmt.Errorf("validator: clean=%v items=%v", rep.Clean(), rep.Items)
		}
	}
	fm, vm = median(floor), median(valid)
	fmt.Printf("runs: floor %v, validator %v\n\n", floor, valid)
	fmt.Println("| measurement | median of 5 | ratio |")
	fmt.Println("|---|---|---|")
	fmt.Printf("| floor: raw parallel scan of both tables | %.2fs | 1.00 |\n", fm.Seconds())
	fmt.Printf("| validator (clean tables) | %.2fs | %.2f× floor (target ≤ 1.3) |\n", vm.Seconds(), vm.Seconds()/fm.Seconds())
	return fm, vm, nil
}

// divergenceFigures plants one difference of each kind and times the
// validator finding them against the floor fm, then the AWS CLI baseline
// against the clean validator's vm.
func divergenceFigures(ctx context.Context, l *lab.Lab, cl map[string]*region.Clients, names region.Names, v *validate.Validator, fm, vm time.Duration, awsBin string) error {
	// One divergent item in each way: the validator diffs only its buckets.
	if err := divergence(ctx, cl, names.Table()); err != nil {
		return err
	}
	t0 := time.Now()
	rep, err := v.Run(ctx)
	if err != nil {
		return err
	}
	dv := time.Since(t0)
	if rep.MissingInDR.Count != 1 || rep.MissingInPrimary.Count != 1 || rep.Divergent.Count != 1 {
		return fmt.Errorf("validator missed the planted divergence: %+v %+v %+v", rep.MissingInDR, rep.MissingInPrimary, rep.Divergent)
	}
	fmt.Printf("| validator (3 planted differences, %d of %d buckets to diff) | %.2fs | %.2f× floor |\n", rep.DifferingBuckets, rep.Buckets, dv.Seconds(), dv.Seconds()/fm.Seconds())

	if awsBin != "" {
		b, err := baseline(ctx, awsBin, l, names.Table())
		if err != nil {
			fmt.Printf("| baseline: aws dynamodb scan ×2, sort, diff | failed: %v | |\n", err)
		} else {
			fmt.Printf("| baseline: aws dynamodb scan ×2, sort, diff | %.2fs | validator %.1f× faster (target ≥ 10) |\n", b.Seconds(), b.Seconds()/vm.Seconds())
		}
	}
	return nil
}

// backupFigures times a snapshot of the primary's table and its restore,
// digest check included.
func backupFigures(ctx context.Context, cl map[string]*region.Clients, names region.Names, segments int) error {
	m := backup.ForRegion(cl["us-east-1"], names)
	m.Segments = segments
	t0 := time.Now()
	man, err := m.Create(ctx)
	if err != nil {
		return err
	}
	snap := time.Since(t0)
	t0 = time.Now()
	res, err := m.Restore(ctx, backup.RestoreOptions{ID: man.ID, Table: "benchdata-restored"})
	if err != nil {
		return err
	}
	rest := time.Since(t0)
	var gz int64
	for _, f := range man.Files {
		gz += f.Bytes
	}
	fmt.Printf("| snapshot (%d items, %d files, %.1f MB gzipped) | %.2fs | %.0f items/s |\n", man.ItemCount, len(man.Files), float64(gz)/1e6, snap.Seconds(), float64(man.ItemCount)/snap.Seconds())
	fmt.Printf("| restore, incl. the digest check of the restored table | %.2fs | %.0f items/s |\n", rest.Seconds(), float64(res.Items)/rest.Seconds())
	fmt.Println()
	return nil
}

func item(i int) map[string]dbtypes.AttributeValue {
	return map[string]dbtypes.AttributeValue{
		"pk":         &dbtypes.AttributeValueMemberS{Value: fmt.Sprintf("customer#%05d", i%977)},
		"sk":         &dbtypes.AttributeValueMemberN{Value: fmt.Sprint(i)},
		"customer":   &dbtypes.AttributeValueMemberS{Value: fmt.Sprintf("customer-%d", i%977)},
		"amount":     &dbtypes.AttributeValueMemberN{Value: fmt.Sprintf("%d.%02d", i%1000, i%100)},
		"region":     &dbtypes.AttributeValueMemberS{Value: "us-east-1"},
		"epoch":      &dbtypes.AttributeValueMemberN{Value: "1"},
		"created_at": &dbtypes.AttributeValueMemberS{Value: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)},
		"tags":       &dbtypes.AttributeValueMemberSS{Value: []string{"web", fmt.Sprint("t", i%5)}},
	}
}

// load writes items [from, to) with 6 concurrent batch writers (more only
// contend for the two cores with DynamoDB Local).
func load(ctx context.Context, c *region.Clients, table string, from, to int) error {
	next := atomic.Int64{}
	next.Store(int64(from))
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 6 {
		wg.Go(func() {
			for {
				start := int(next.Add(25)) - 25
				if start >= to {
					return
				}
				var reqs []dbtypes.WriteRequest
				for i := start; i < min(start+25, to); i++ {
					reqs = append(reqs, dbtypes.WriteRequest{PutRequest: &dbtypes.PutRequest{Item: item(i)}})
				}
				in := map[string][]dbtypes.WriteRequest{table: reqs}
				for len(in) > 0 {
					out, err := c.DynamoDB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: in})
					if err != nil {
						errs <- err
						return
					}
					in = out.UnprocessedItems
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// rawScan is the floor: both tables scanned at once, same segments, items
// counted and dropped.
func rawScan(ctx context.Context, cl map[string]*region.Clients, table string, segments int) (int, error) {
	var n atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, 0, 2)
	var mu sync.Mutex
	for _, c := range cl {
		wg.Go(func() {
			err := validate.Scan(ctx, c.DynamoDB, table, validate.AllSegments(segments), false, func(_ int, page []map[string]dbtypes.AttributeValue) error {
				n.Add(int64(len(page)))
				return nil
			})
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		})
	}
	wg.Wait()
	return int(n.Load()), errors.Join(errs...)
}

func divergence(ctx context.Context, cl map[string]*region.Clients, table string) error {
	p, d := cl["us-east-1"].DynamoDB, cl["us-west-2"].DynamoDB
	extra := item(1e9)
	if _, err := p.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: extra}); err != nil {
		return err
	}
	extra = item(1e9 + 1)
	if _, err := d.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: extra}); err != nil {
		return err
	}
	changed := item(42)
	changed["amount"] = &dbtypes.AttributeValueMemberN{Value: "43"}
	_, err := d.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: changed})
	return err
}

// baseline is what a user might type: scan both tables with the AWS CLI,
// one item per line, sort, diff.
func baseline(ctx context.Context, awsBin string, l *lab.Lab, table string) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "bench-baseline-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	creds := l.Credentials()
	script := `set -e
scan() { "$AWS" dynamodb scan --endpoint-url "$1" --table-name "$TABLE" --output text --query 'Items[*].[to_string(@)]' | sort > "$2"; }
scan "$EP1" "$DIR/a" & p1=$!
scan "$EP2" "$DIR/b" & p2=$!
wait $p1; wait $p2
diff "$DIR/a" "$DIR/b" > "$DIR/diff" || true
wc -l < "$DIR/a"
`
	ep1, _ := l.Endpoints("us-east-1")
	ep2, _ := l.Endpoints("us-west-2")
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Env = append(os.Environ(), "AWS="+awsBin, "TABLE="+table, "DIR="+dir, "EP1="+ep1.DynamoDB, "EP2="+ep2.DynamoDB,
		"AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey, "AWS_DEFAULT_REGION=us-east-1",
		"AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	d := time.Since(t0)
	if n := strings.TrimSpace(string(out)); n == "0" {
		return 0, errors.New("the AWS CLI scan returned no items")
	}
	return d, nil
}

// rss grows the tables to n items and runs the validator in a child
// process, reporting its peak resident set.
func rss(ctx context.Context, l *lab.Lab, cl map[string]*region.Clients, names region.Names, have, n, segments int) error {
	t0 := time.Now()
	for _, r := range l.Regions() {
		if err := load(ctx, cl[r], names.Table(), have, n); err != nil {
			return err
		}
	}
	fmt.Printf("## validator peak RSS (%d items per region; loaded in %.0fs)\n\n", n, time.Since(t0).Seconds())
	eps := map[string]lab.Endpoints{}
	for _, r := range l.Regions() {
		eps[r], _ = l.Endpoints(r)
	}
	spec, _ := json.Marshal(child{Table: names.Table(), Endpoints: eps, Creds: l.Credentials(), Segments: segments})
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), "BENCH_DATA_CHILD="+string(spec))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("child: %w", err)
	}
	peak := float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024
	fmt.Printf("| validator, %d items per region | %s | peak RSS %.0f MB (target ≤ 150) |\n\n", n, strings.TrimSpace(string(out)), peak)
	return nil
}

func runChild(spec string) {
	var c child
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		fail(err)
	}
	side := func(r string) validate.Side {
		cl, err := region.New(lab.LabSpec(r, c.Endpoints[r], c.Creds, 0))
		if err != nil {
			fail(err)
		}
		return validate.Side{Region: r, DB: cl.DynamoDB, Table: c.Table}
	}
	v := &validate.Validator{Primary: side("us-east-1"), DR: side("us-west-2"), Segments: c.Segments, Settle: -1}
	t0 := time.Now()
	rep, err := v.Run(context.Background())
	if err != nil {
		fail(err)
	}
	fmt.Printf("%.1fs, %d + %d items, %d differences", time.Since(t0).Seconds(), rep.Items["us-east-1"], rep.Items["us-west-2"],
		rep.MissingInDR.Count+rep.MissingInPrimary.Count+rep.Divergent.Count)
}

// cpuSeconds is this process's CPU time so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func median(d []time.Duration) time.Duration { return slices.Sorted(slices.Values(d))[len(d)/2] }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
