package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/drill/report"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// source is a Source whose state the test moves: a failover from
// us-east-1 to us-west-2, as the status and journal would show it.
type source struct {
	mu      sync.Mutex
	active  string
	epoch   int64
	journal []record.Entry
	report  *report.Report
}

func (s *source) failover(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active, s.epoch = "us-west-2", 2
	s.journal = append(s.journal, record.Entry{Epoch: 2, Phase: "decided", At: at, From: "us-east-1", To: "us-west-2", Detail: "primary unhealthy"},
		record.Entry{Epoch: 2, Phase: record.Completed, At: at.Add(time.Second), From: "us-east-1", To: "us-west-2"})
}

// Status is testdata/status.json — the status document with every field
// set, held to cmd/pilotlight's own type by TestStatusFixtureIsTheStatusDocument
// — moved to the source's active region and epoch.
func (s *source) Status(context.Context) (json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := os.ReadFile(filepath.Join("testdata", "status.json"))
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	until := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339Nano)
	doc["active_region"], doc["epoch"], doc["writable_regions"], doc["routing_answer"] = s.active, s.epoch, []string{s.active}, s.active
	for _, r := range doc["regions"].([]any) {
		r := r.(map[string]any)
		rec := r["record"].(map[string]any)
		rec["active_region"], rec["epoch"] = s.active, s.epoch
		if l, ok := r["lease"].(map[string]any); ok {
			l["epoch"], l["lease_until"] = s.epoch, until
		}
		r["accepts_writes"] = r["region"] == s.active
		if r["region"] == s.active {
			delete(r, "why_not")
		}
	}
	return json.Marshal(doc)
}

func (s *source) Journal(context.Context) (map[int64][]record.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return map[int64][]record.Entry{2: append([]record.Entry(nil), s.journal...)}, nil
}

func (s *source) History() ([]report.Entry, error) {
	pass := true
	return []report.Entry{{ID: "20261127T090000Z-region-outage", Kind: "drill", Scenario: "region-outage", At: time.Now().Add(-time.Hour), Pass: &pass, RTOSeconds: 3.2}}, nil
}

func (s *source) LastReport() (*report.Report, error) { return s.report, nil }

func testReport() *report.Report {
	start := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	var tl []report.Second
	for i := range 12 {
		s := report.Second{T: i, Acked: map[string]int{}}
		switch {
		case i < 4:
			s.Acked["us-east-1"] = 20
		case i < 7:
			s.Errors = 20
		default:
			s.Acked["us-west-2"] = 20
		}
		tl = append(tl, s)
	}
	return &report.Report{Scenario: "region-outage", Primary: "us-east-1", DR: "us-west-2", Started: start,
		Writes:   report.WriteSummary{Started: start, Timeline: tl},
		Failover: &report.FailoverReport{FaultAt: start.Add(4 * time.Second), FirstAckDR: start.Add(7 * time.Second)}}
}

// chromium returns the headless browser, or skips (fails under CI=true).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Missing(t, "chromium is not installed: .ci/run installs Debian's chromium package", "chromium is not installed (apt-get install chromium): skipping the browser test")
	return ""
}

// TestPageFollowsAFailover drives the page in headless Chromium: it loads
// with no console errors, shows the active region, shows a failover within
// 2 s of the control records changing, draws the last drill's chart, and
// leaves a screenshot.
func TestPageFollowsAFailover(t *testing.T) {
	bin := chromium(t)
	src := &source{active: "us-east-1", epoch: 1, report: testReport()}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := &Server{Source: src, Every: 200 * time.Millisecond}
	srv.Start(ctx)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	actx, acancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true), chromedp.WindowSize(1200, 1400))...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	var (
		mu       sync.Mutex
		messages []string
	)
	// Start the browser and subscribe before the page loads.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithCancel(bctx)
	defer ccancel()
	go func() {
		for m, err := range chromedp.Console(cctx) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				mu.Lock()
				messages = append(messages, m.String())
				mu.Unlock()
			}
		}
	}()

	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.getElementById("headline").dataset.active === "us-east-1"`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("the page never showed us-east-1 active: %v", err)
	}
	headline, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("headline").textContent`))
	if err != nil || !strings.Contains(headline, "us-east-1") || !strings.Contains(headline, "epoch 1") {
		t.Errorf("headline = %q (%v)", headline, err)
	}

	src.failover(time.Now())
	changed := time.Now()
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.getElementById("headline").dataset.active === "us-west-2" && document.querySelectorAll("#journal tbody tr").length === 2`,
		chromedp.WithPollingTimeout(2*time.Second))); err != nil {
		t.Fatalf("the page did not show the failover within 2 s: %v", err)
	}
	t.Logf("failover shown %v after the records changed", time.Since(changed).Round(time.Millisecond))
	card, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('.card.active').dataset.region`))
	if err != nil || card != "us-west-2" {
		t.Errorf("highlighted region card = %q (%v), want us-west-2", card, err)
	}
	// The protected applications, with their tiers.
	apps, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("protected-section").hidden ? "hidden" : document.querySelector("#protected tbody").textContent`))
	if err != nil || !strings.Contains(apps, "shop") || !strings.Contains(apps, "epoch-guard") || !strings.Contains(apps, "shop-cart-api") {
		t.Errorf("protected applications = %q (%v)", apps, err)
	}
	// The last drill's chart is an image that loaded (gonum/plot's SVG).
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`(() => { const i = document.querySelector("#plot img"); return i && i.complete && i.naturalWidth > 0; })()`,
		chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Errorf("the drill chart did not load: %v", err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil || img.Bounds().Dx() < 800 {
		t.Fatalf("screenshot is not a page-sized PNG: %v", err)
	}
	dir := os.Getenv("PILOTLIGHT_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, "dashboard.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	mu.Lock()
	defer mu.Unlock()
	if len(messages) > 0 {
		t.Errorf("console errors: %q", messages)
	}
}
