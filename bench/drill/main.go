// Command drill benchmarks drills: it runs N region-outage drills with the
// lab defaults (probe every 1s, alarm 3 of 3, front door 1s × 3, TTL 1s,
// replication lag 100ms) and reports RTO median and max, RTO minus the
// detection floor (alarm period × datapoints + TTL, computed by the lab from
// its settings in the same run), RPO against the configured lag, failback
// loss, and wall time per drill.
//
//	go run ./bench/drill [-runs 5] [-bin bin/pilotlight]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/pilotlight/pilotlight/internal/drill/report"
)

func main() {
	runs := flag.Int("runs", 5, "drills to run")
	bin := flag.String("bin", "bin/pilotlight", "pilotlight binary")
	rate := flag.Int("rate", 50, "workload writes per second")
	flag.Parse()
	dir, err := os.MkdirTemp("", "pilotlight-bench-drill-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	env := append(os.Environ(), "PILOTLIGHT_LAB_DIR="+filepath.Join(dir, "lab"))
	defer func() {
		down := exec.Command(*bin, "lab", "down", "--env-file", os.DevNull)
		down.Env = env
		down.Run()
	}()
	var reps []*report.Report
	var walls []time.Duration
	for i := 1; i <= *runs; i++ {
		path := filepath.Join(dir, fmt.Sprintf("report-%d.json", i))
		start := time.Now()
		cmd := exec.Command(*bin, "drill", "--env-file", os.DevNull, "--report", path, "--rate", fmt.Sprint(*rate))
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		wall := time.Since(start)
		b, rerr := os.ReadFile(path)
		if rerr != nil {
			fail(fmt.Errorf("drill %d: %v: %s", i, err, out))
		}
		var r report.Report
		if err := json.Unmarshal(b, &r); err != nil {
			fail(err)
		}
		reps = append(reps, &r)
		walls = append(walls, wall)
		rto := 0.0
		if r.Failover != nil {
			rto = r.Failover.RTOSeconds
		}
		fmt.Fprintf(os.Stderr, "drill %d: pass=%v RTO %.2fs wall %s\n", i, r.Pass, rto, wall.Round(time.Second))
	}
	var rtos, over, rpoSpans, rpoCounts, unavail []float64
	lost, passed := 0, 0
	floor := ""
	for _, r := range reps {
		if r.Pass {
			passed++
		}
		if f := r.Failover; f != nil {
			rtos = append(rtos, f.RTOSeconds)
			over = append(over, f.RTOMinusFloor)
			floor = fmt.Sprintf("%.2fs (%s)", f.DetectionFloor, f.FloorExplanation)
		}
		if r.RPO != nil {
			rpoSpans = append(rpoSpans, r.RPO.SpanSeconds)
			rpoCounts = append(rpoCounts, float64(r.RPO.Missing))
		}
		if r.Failback != nil && r.Failback.Lost == 0 && r.Pass {
			lost++
		}
		if r.Failback != nil && r.Failback.UnavailableSeconds > 0 {
			unavail = append(unavail, r.Failback.UnavailableSeconds)
		}
	}
	fmt.Printf("## %d lab drills (region-outage, %d writes/s, lab defaults)\n\n", len(reps), *rate)
	fmt.Println("| measure | median | max | target |")
	fmt.Println("|---|---|---|---|")
	fmt.Printf("| RTO | %.2fs | %.2fs | |\n", median(rtos), maxOf(rtos))
	fmt.Printf("| RTO − detection floor %s | %.2fs | %.2fs | ≤ 1.5s (median) |\n", floor, median(over), maxOf(over))
	fmt.Printf("| RPO, acknowledged writes missing at takeover | %.0f | %.0f | ≤ lag + 100ms of writes = %d |\n", median(rpoCounts), maxOf(rpoCounts), *rate/5)
	fmt.Printf("| RPO, seconds of writes missing | %.3fs | %.3fs | |\n", median(rpoSpans), maxOf(rpoSpans))
	ws := make([]float64, len(walls))
	for i, w := range walls {
		ws[i] = w.Seconds()
	}
	fmt.Printf("| wall time per drill (first includes lab start) | %.0fs | %.0fs | ≤ 90s |\n", median(ws), maxOf(ws))
	fmt.Printf("| drills passed; failback lost 0 writes | %d of %d; %d of %d | | 5 of 5 |\n", passed, len(reps), lost, len(reps))
	fmt.Printf("| planned failback: writes refused (last DR ack → first primary ack) | %.2fs | %.2fs | ≤ 2s (median) |\n", median(unavail), maxOf(unavail))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func maxOf(v []float64) float64 {
	m := 0.0
	for i, x := range v {
		if i == 0 || x > m {
			m = x
		}
	}
	return m
}
