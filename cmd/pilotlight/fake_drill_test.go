package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pilotlight/pilotlight/internal/clock"
	"github.com/pilotlight/pilotlight/internal/drill/report"
	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/failover/arrival"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/lab/replication"
	"github.com/pilotlight/pilotlight/internal/orders"
)

// serveDrill makes f a target a drill runs on. Its data plane is the
// shared lab's, with the fake's table and bucket replicated as a protected
// application's are; each region runs the real orders service in process,
// behind a function URL's shape; the lease is kept as the health checks
// keep it; an outage sets off the controller as the alarm would; and a
// failback drains as the lab's does.
func (f *fakeTarget) serveDrill(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var running sync.WaitGroup // the health checks and the alarm, stopped last
	t.Cleanup(func() { cancel(); running.Wait() })
	l := labtest.Lab(t)
	for _, a := range []replication.Adopted{{Table: f.names.Table()}, {Bucket: f.names.Bucket(fakePrimary), Replica: f.names.Bucket(fakeDR)}} {
		if err := l.Replicate(ctx, a); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.StopReplicating(context.Background(), a) })
	}
	f.orders = map[string]string{}
	for r, c := range f.clients {
		role := orders.RoleSecondary
		if r == fakePrimary {
			role = orders.RolePrimary
		}
		svc := orders.New(orders.Config{Role: role, Names: f.names, Lease: fakeLease}, c)
		srv := httptest.NewServer(functionURL(func(ctx context.Context, ev events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
			if up, _ := f.healthy(ctx, r); !up {
				return events.LambdaFunctionURLResponse{}, errors.New("fake outage of " + r)
			}
			return svc.Handle(ctx, ev)
		}))
		t.Cleanup(srv.Close)
		f.orders[r] = srv.URL
	}
	f.drain = &arrival.Drainer{Clients: f.clients, Names: f.names, Objects: true, Rounding: arrival.LocalStreamRounding, Timeout: 30 * time.Second,
		Replicated: func(context.Context, string, string) error { l.KickReplication(); return nil }}
	f.failback = l.SetFailback
	t.Cleanup(func() { l.SetFailback(false) })
	fc, err := f.Controller(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The health checks: each region up renews its lease if it holds it
	// (a region that is down cannot, and its lease runs out).
	q := fc.Quorum(fakePrimary, fakeDR, false)
	running.Add(1)
	go func() {
		defer running.Done()
		for ctx.Err() == nil {
			for _, r := range []string{fakePrimary, fakeDR} {
				if up, _ := f.healthy(ctx, r); up {
					_, _ = q.Renew(ctx, r)
				}
			}
			_ = clock.Sleep(ctx, fakeLease.RenewEvery())
		}
	}()
	// The alarm: invoked again while the outage lasts, until the
	// controller has failed over.
	f.onOutage = func() {
		running.Add(1)
		go func() {
			defer running.Done()
			for ctx.Err() == nil {
				res, err := fc.Run(ctx, failover.Request{From: fakePrimary, To: fakeDR, Reason: "the fake's alarm"})
				if up, _ := f.healthy(ctx, fakePrimary); up || res.Outcome == failover.OutcomeCompleted {
					return
				}
				t.Logf("the fake's alarm: %s %v", res.Outcome, err)
				_ = clock.Sleep(ctx, 200*time.Millisecond)
			}
		}()
	}
}

// functionURL serves a function's handler over HTTP, as a function URL
// does: the request becomes its event, its response the reply.
func functionURL(h func(context.Context, events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ev := events.LambdaFunctionURLRequest{RawPath: r.URL.Path, Body: string(body)}
		ev.RequestContext.HTTP.Method = r.Method
		resp, err := h(r.Context(), ev)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for k, v := range resp.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.WriteString(w, resp.Body)
	})
}

// The drill command runs a drill on whatever target it connects to: on the
// fake, a region outage is injected and healed, the controller fails over
// and back, the report is measured from the real orders service's writes,
// kept in the reports directory and printed (summary or JSON), and the
// target is closed. A scenario the command does not know is refused
// before it connects.
func TestDrillOnAFakeTarget(t *testing.T) {
	f := newFakeTarget(t)
	f.serveDrill(t)
	dir := t.TempDir()
	drillArgs := []string{"drill", "--rate", "20", "--concurrency", "4", "--steady", "2s", "--after", "1s", "--timeout", "30s"}

	r := runFake(t, f, dir, drillArgs...)
	if r.code != 0 {
		t.Fatalf("drill: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	for _, want := range []string{"RTO", "RPO", "failback", "report: "} {
		if !strings.Contains(r.out, want) {
			t.Errorf("the summary does not show %q:\n%s", want, r.out)
		}
	}
	if !strings.Contains(r.err, "FAULT: fake outage of "+fakePrimary) || !strings.Contains(r.err, "RECOVERED") {
		t.Errorf("progress does not show the fault and the recovery:\n%s", r.err)
	}
	f.mu.Lock()
	injected, healed, failback, closed := slices.Clone(f.injected), slices.Clone(f.healed), slices.Clone(f.failbackRepl), f.closed
	f.mu.Unlock()
	if !slices.Equal(injected, []string{fakePrimary}) || !slices.Contains(healed, fakePrimary) {
		t.Errorf("injected %v, healed %v: want the primary cut once and healed", injected, healed)
	}
	if len(failback) == 0 || !failback[0] || failback[len(failback)-1] {
		t.Errorf("failback replication went %v: want on for the failback, off after", failback)
	}
	if closed == 0 {
		t.Error("the drill did not close its target")
	}
	saved, _ := filepath.Glob(filepath.Join(dir, "reports", "*", "report.json"))
	if len(saved) != 1 {
		t.Fatalf("reports kept: %v, want one", saved)
	}
	b, err := os.ReadFile(saved[0])
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Pass || rep.Target != "fake" || rep.Failover == nil || rep.Failover.RTOSeconds <= 0 || rep.Failback == nil || rep.Failback.Lost != 0 || rep.Writes.ByRegion[fakeDR] == 0 {
		t.Errorf("kept report: pass %v target %q failover %+v failback %+v writes by region %v", rep.Pass, rep.Target, rep.Failover, rep.Failback, rep.Writes.ByRegion)
	}

	r = runFake(t, f, dir, append(drillArgs, "--scenario", "no-fault", "--json")...)
	var got report.Report
	if err := json.Unmarshal([]byte(r.out), &got); err != nil || r.code != 0 {
		t.Fatalf("drill --json: exit %d, %v\n%s\n%s", r.code, err, r.out, r.err)
	}
	if got.Scenario != "no-fault" || !got.Pass || got.Failover != nil || got.Writes.Acked == 0 {
		t.Errorf("no-fault drill: scenario %s pass %v failover %+v acked %d", got.Scenario, got.Pass, got.Failover, got.Writes.Acked)
	}

	r = runFake(t, f, dir, "drill", "--scenario", "no-such-drill")
	if r.code != 2 || !strings.Contains(r.err, `unknown scenario "no-such-drill"`) || !strings.Contains(r.err, "or all") {
		t.Errorf("an unknown scenario: exit %d\n%s", r.code, r.err)
	}
}
