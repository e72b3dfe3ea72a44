// Command lab benchmarks the local lab: how long `pilotlight lab up` takes to
// be ready, and the replication lag of the table replicator at a steady write
// rate. Each figure is reported beside a floor measured in the same run:
// start-up against one bare DynamoDB Local process (the slowest server);
// replication lag — acknowledgement in the primary to the item being served
// by the DR region, seen by a poller — against the same poller reading the
// primary itself (the measurement's own resolution).
//
//	go run ./bench/lab [-runs 5] [-seconds 10] [-rates 200,1000]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/lab/server"
	"github.com/pilotlight/pilotlight/internal/region"
)

func main() {
	runs := flag.Int("runs", 5, "lab start-ups to time")
	seconds := flag.Int("seconds", 10, "seconds of writes per rate")
	rates := flag.String("rates", "200,1000", "write rates (writes/s) to measure lag at")
	bin := flag.String("bin", "bin/pilotlight", "pilotlight binary to time `lab up` with")
	flag.Parse()
	cache := server.DefaultCacheDir()
	sv, err := server.Find(cache)
	if err != nil {
		fail(err)
	}
	ctx := context.Background()

	fmt.Println("## lab start-up (servers cached)")
	fmt.Println()
	up, err := timeLabUp(ctx, *bin, cache, *runs)
	if err != nil {
		fail(err)
	}
	floor, err := timeBareDynamoDB(ctx, sv, *runs)
	if err != nil {
		fail(err)
	}
	fmt.Println("| measure | median | max | ratio to floor |")
	fmt.Println("|---|---|---|---|")
	fmt.Printf("| `pilotlight lab up` to ready (%d runs) | %s | %s | %.2f× |\n", *runs, median(up), maxOf(up), float64(median(up))/float64(median(floor)))
	fmt.Printf("| floor: one bare DynamoDB Local to first answer | %s | %s | 1.00× |\n", median(floor), maxOf(floor))
	fmt.Println()

	fmt.Println("## table replication lag (lag setting 0)")
	fmt.Println()
	fmt.Println("| rate | writes | replicated p50 | p99 | floor (same poller, primary) p50 | p99 | p99 ratio |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, rs := range strings.Split(*rates, ",") {
		rate, err := strconv.Atoi(strings.TrimSpace(rs))
		if err != nil || rate <= 0 {
			fail(fmt.Errorf("bad rate %q", rs))
		}
		r, err := measureLag(ctx, sv, rate, time.Duration(*seconds)*time.Second)
		if err != nil {
			fail(err)
		}
		fmt.Printf("| %d/s | %d | %s | %s | %s | %s | %.2f× |\n", rate, r.writes, pct(r.repl, 50), pct(r.repl, 99), pct(r.own, 50), pct(r.own, 99),
			float64(pct(r.repl, 99))/float64(max(pct(r.own, 99), time.Millisecond)))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func timeLabUp(ctx context.Context, bin, cache string, runs int) ([]time.Duration, error) {
	var out []time.Duration
	for i := 0; i < runs; i++ {
		dir, err := os.MkdirTemp("", "pilotlight-bench-")
		if err != nil {
			return nil, err
		}
		env := append(os.Environ(), "PILOTLIGHT_LAB_DIR="+dir, "PILOTLIGHT_CACHE_DIR="+cache)
		start := time.Now()
		cmd := exec.CommandContext(ctx, bin, "lab", "up", "--env-file", os.DevNull)
		cmd.Env = env
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("lab up: %v: %s", err, b)
		}
		out = append(out, time.Since(start))
		down := exec.CommandContext(ctx, bin, "lab", "down", "--env-file", os.DevNull)
		down.Env = env
		if b, err := down.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("lab down: %v: %s", err, b)
		}
		os.RemoveAll(dir)
	}
	return out, nil
}

func timeBareDynamoDB(ctx context.Context, sv server.Paths, runs int) ([]time.Duration, error) {
	var out []time.Duration
	for i := 0; i < runs; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		start := time.Now()
		cmd := exec.Command(sv.Java, "-Djava.library.path=DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar", "-inMemory", "-disableTelemetry", "-port", strconv.Itoa(port))
		cmd.Dir = sv.DynamoDBDir
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		c := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:" + strconv.Itoa(port)),
			Credentials: credentials.NewStaticCredentialsProvider("x", "y", ""), DisableValidateResponseChecksum: true})
		for {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			_, err := c.ListTables(cctx, &dynamodb.ListTablesInput{})
			cancel()
			if err == nil {
				break
			}
			if time.Since(start) > 30*time.Second {
				cmd.Process.Kill()
				return nil, errors.New("bare DynamoDB Local did not answer in 30s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		out = append(out, time.Since(start))
		cmd.Process.Kill()
		cmd.Wait()
	}
	return out, nil
}

type lagResult struct {
	writes    int
	repl, own []time.Duration
}

// measureLag writes at rate for d into the primary and records, per item,
// when the primary's own stream and the DR region's stream first show it.
func measureLag(ctx context.Context, sv server.Paths, rate int, d time.Duration) (lagResult, error) {
	dir, err := os.MkdirTemp("", "pilotlight-bench-")
	if err != nil {
		return lagResult{}, err
	}
	defer os.RemoveAll(dir)
	l, err := lab.Start(ctx, lab.Options{Primary: "us-east-1", DR: "us-west-2", Dir: dir, Servers: sv, Lag: 0, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return lagResult{}, err
	}
	defer l.Close()
	p, _ := l.Clients("us-east-1", 0)
	dr, _ := l.Clients("us-west-2", 0)
	table := l.Names().Table()

	var mu sync.Mutex
	acked := map[string]time.Time{}
	seenOwn := map[string]time.Time{}
	seenDR := map[string]time.Time{}
	wctx, stopWatch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, w := range []struct {
		c    *region.Clients
		seen map[string]time.Time
	}{{p, seenOwn}, {dr, seenDR}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pending := func() []string {
				mu.Lock()
				defer mu.Unlock()
				var keys []string
				for pk := range acked {
					if _, ok := w.seen[pk]; !ok {
						keys = append(keys, pk)
					}
				}
				return keys
			}
			watchItems(wctx, w.c, table, pending, func(pk string, at time.Time) {
				mu.Lock()
				if _, ok := w.seen[pk]; !ok {
					w.seen[pk] = at
				}
				mu.Unlock()
			})
		}()
	}
	// Warm up first: DynamoDB Local is a JVM, slow until its JIT has seen
	// the work. A running lab is warm; the figure is for that steady state.
	if err := writeAt(ctx, p, table, "warm", rate, 10*time.Second, nil); err != nil {
		stopWatch()
		wg.Wait()
		return lagResult{}, err
	}
	time.Sleep(2 * time.Second)
	total := rate * int(d/time.Second)
	record := func(pk string, at time.Time) {
		mu.Lock()
		acked[pk] = at
		mu.Unlock()
	}
	if err := writeAt(ctx, p, table, fmt.Sprintf("lag#%d", rate), rate, d, record); err != nil {
		stopWatch()
		wg.Wait()
		return lagResult{}, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		done := 0
		for pk := range acked {
			if _, ok := seenDR[pk]; ok {
				done++
			}
		}
		mu.Unlock()
		if done >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopWatch()
	wg.Wait()
	res := lagResult{writes: total}
	for pk, a := range acked {
		if t, ok := seenDR[pk]; ok {
			res.repl = append(res.repl, max(0, t.Sub(a)))
		}
		if t, ok := seenOwn[pk]; ok {
			res.own = append(res.own, max(0, t.Sub(a)))
		}
	}
	if len(res.repl) < total {
		return res, fmt.Errorf("only %d of %d writes reached DR within 60s", len(res.repl), total)
	}
	return res, nil
}

// writeAt writes items with keys prefix#n at a steady rate for d, calling
// acked with each write's acknowledgement time.
func writeAt(ctx context.Context, p *region.Clients, table, prefix string, rate int, d time.Duration, acked func(string, time.Time)) error {
	total := rate * int(d/time.Second)
	workers := max(4, rate/50)
	jobs := make(chan int)
	var (
		ww       sync.WaitGroup
		mu       sync.Mutex
		writeErr error
	)
	for i := 0; i < workers; i++ {
		ww.Add(1)
		go func() {
			defer ww.Done()
			for n := range jobs {
				pk := fmt.Sprintf("%s#%07d", prefix, n)
				_, err := p.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]dbtypes.AttributeValue{
					region.TableHashKey: &dbtypes.AttributeValueMemberS{Value: pk}, "payload": &dbtypes.AttributeValueMemberS{Value: strings.Repeat("x", 200)}}})
				now := time.Now()
				mu.Lock()
				if err != nil && writeErr == nil {
					writeErr = err
				}
				mu.Unlock()
				if err == nil && acked != nil {
					acked(pk, now)
				}
			}
		}()
	}
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for n := 0; n < total; n++ {
		if wait := time.Until(start.Add(time.Duration(n) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		jobs <- n
	}
	close(jobs)
	ww.Wait()
	return writeErr
}

// watchItems reports each key of pending() as a region first serves it,
// polling with BatchGetItem: what a client reading that region sees.
func watchItems(ctx context.Context, c *region.Clients, table string, pending func() []string, seen func(pk string, at time.Time)) {
	for ctx.Err() == nil {
		keys := pending()
		// Batches in parallel (at most 8 at once): a backlog must not make
		// the poller itself slower to notice each key than the floor's.
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for start := 0; start < len(keys) && ctx.Err() == nil; start += 100 {
			batch := keys[start:min(start+100, len(keys))]
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				req := make([]map[string]dbtypes.AttributeValue, len(batch))
				for i, k := range batch {
					req[i] = map[string]dbtypes.AttributeValue{region.TableHashKey: &dbtypes.AttributeValueMemberS{Value: k}}
				}
				out, err := c.DynamoDB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]dbtypes.KeysAndAttributes{
					table: {Keys: req, ProjectionExpression: aws.String("pk")}}})
				if err != nil {
					return
				}
				now := time.Now()
				for _, it := range out.Responses[table] {
					if k, ok := it[region.TableHashKey].(*dbtypes.AttributeValueMemberS); ok {
						seen(k.Value, now)
					}
				}
			}()
		}
		wg.Wait()
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func median(d []time.Duration) time.Duration { return pct(d, 50) }

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[i].Round(time.Millisecond)
}

func maxOf(d []time.Duration) time.Duration {
	var m time.Duration
	for _, x := range d {
		m = max(m, x)
	}
	return m.Round(time.Millisecond)
}
