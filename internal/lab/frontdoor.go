package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// The front door stands in for Route 53 failover routing: it health-checks
// each region's orders service (GET /health) every interval, marks a region
// unhealthy or healthy after threshold consecutive results, answers with the
// primary while it is healthy, else the secondary while it is healthy, else
// the primary (as Route 53 does when both records are unhealthy), and lets a
// changed answer reach clients only after the TTL, as cached DNS answers
// expire. Requests are turned into function-URL events and sent to the
// answered region's app function.
type frontDoor struct {
	l   *Lab
	fo  FunctionOptions
	srv *http.Server

	mu      sync.Mutex
	checks  map[string]*routeCheck
	answer  string
	pending string    // the answer clients will get once their cache expires
	flipAt  time.Time // when pending becomes the answer
}

type routeCheck struct {
	Healthy  bool      `json:"healthy"`
	Fails    int       `json:"consecutive_failures"`
	OKs      int       `json:"consecutive_successes"`
	LastErr  string    `json:"last_error,omitempty"`
	Changed  time.Time `json:"changed,omitzero"`
	checking bool
}

// RouteEvent is a routing change as the drill sees it.
type RouteEvent struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"` // health, answer
	Region string    `json:"region"`
	Detail string    `json:"detail"`
}

func (l *Lab) startFrontDoor(ln net.Listener) {
	fd := &frontDoor{l: l, fo: l.opts.Functions, checks: map[string]*routeCheck{}, answer: l.opts.Primary, pending: l.opts.Primary}
	for _, r := range l.Regions() {
		// Start healthy, as a fresh Route 53 health check does.
		fd.checks[r] = &routeCheck{Healthy: true}
	}
	fd.srv = &http.Server{Handler: fd, ReadHeaderTimeout: 5 * time.Second}
	l.frontDoor = fd
	go fd.srv.Serve(ln)
}

func (fd *frontDoor) run(ctx context.Context) {
	tick := time.NewTicker(fd.fo.RouteInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, r := range fd.l.Regions() {
			fd.mu.Lock()
			busy := fd.checks[r].checking
			fd.checks[r].checking = true
			fd.mu.Unlock()
			if !busy {
				go fd.check(ctx, r)
			}
		}
		fd.flip()
	}
}

func (fd *frontDoor) check(ctx context.Context, r string) {
	ctx, cancel := context.WithTimeout(ctx, fd.fo.RouteInterval)
	defer cancel()
	resp, err := fd.l.invokeHTTP(ctx, r, http.MethodGet, "/health", nil)
	ok := err == nil && resp.StatusCode == http.StatusOK
	fd.mu.Lock()
	defer fd.mu.Unlock()
	c := fd.checks[r]
	c.checking = false
	if ok {
		c.OKs++
		c.Fails = 0
		c.LastErr = ""
	} else {
		c.Fails++
		c.OKs = 0
		if err != nil {
			c.LastErr = err.Error()
		} else {
			c.LastErr = fmt.Sprintf("status %d", resp.StatusCode)
		}
	}
	switch {
	case c.Healthy && c.Fails >= fd.fo.RouteThreshold:
		c.Healthy, c.Changed = false, time.Now()
		fd.l.event("health-check", r, "routing marks "+r+" unhealthy: "+c.LastErr)
	case !c.Healthy && c.OKs >= fd.fo.RouteThreshold:
		c.Healthy, c.Changed = true, time.Now()
		fd.l.event("health-check", r, "routing marks "+r+" healthy")
	}
	want := fd.l.opts.Primary
	if !fd.checks[fd.l.opts.Primary].Healthy && fd.checks[fd.l.opts.DR].Healthy {
		want = fd.l.opts.DR
	}
	if want != fd.pending {
		fd.pending = want
		fd.flipAt = time.Now().Add(fd.fo.RouteTTL)
		fd.l.event("route-record", want, "answer changes to "+want+"; clients follow within the TTL")
		// Clients' cached answers expire a TTL from now, not at the next
		// check: flip then.
		time.AfterFunc(fd.fo.RouteTTL, fd.flip)
	}
}

// flip sends clients to the pending answer once its TTL has passed.
func (fd *frontDoor) flip() {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if fd.pending != fd.answer && !time.Now().Before(fd.flipAt) {
		fd.l.event("route", fd.pending, "clients now sent to "+fd.pending+" (was "+fd.answer+")")
		fd.answer = fd.pending
	}
}

// RoutingStatus is the front door's view, served at /_pilotlight/routing.
type RoutingStatus struct {
	Answer  string                 `json:"answer"`
	Pending string                 `json:"pending"`
	Regions map[string]*routeCheck `json:"regions"`
}

func (fd *frontDoor) status() RoutingStatus {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	st := RoutingStatus{Answer: fd.answer, Pending: fd.pending, Regions: map[string]*routeCheck{}}
	for r, c := range fd.checks {
		cp := *c
		st.Regions[r] = &cp
	}
	return st
}

func (fd *frontDoor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_pilotlight/routing" {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(fd.status())
		return
	}
	if r.URL.Path == "/_pilotlight/alarm" {
		// The alarm's state, as cloudwatch:DescribeAlarms gives it on AWS:
		// the controller's scheduled tick reads it.
		state, name := "INSUFFICIENT_DATA", ""
		if a := fd.l.alarm; a != nil {
			name, state = a.State()
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"alarm": name, "state": state})
		return
	}
	target, path := "", r.URL.Path
	if rest, ok := strings.CutPrefix(r.URL.Path, "/_region/"); ok {
		target, path, _ = strings.Cut(rest, "/")
		path = "/" + path
	} else {
		fd.mu.Lock()
		target = fd.answer
		fd.mu.Unlock()
	}
	if a := fd.l.auth.Load(); a != nil && !a.FunctionURL(target, fd.l.opts.Names.Function(FnApp), w, r) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "request body: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	resp, err := fd.l.invokeHTTP(r.Context(), target, r.Method, path, body)
	if err != nil {
		w.Header().Set("X-Pilotlight-Routed-Region", target)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("X-Pilotlight-Routed-Region", target)
	w.WriteHeader(resp.StatusCode)
	io.WriteString(w, resp.Body)
}

// invokeHTTP sends an HTTP request to a region's app function as a
// function-URL event.
func (l *Lab) invokeHTTP(ctx context.Context, regionName, method, path string, body []byte) (events.LambdaFunctionURLResponse, error) {
	var out events.LambdaFunctionURLResponse
	ev := events.LambdaFunctionURLRequest{
		Version: "2.0", RawPath: path, Body: string(body),
		Headers: map[string]string{"content-type": "application/json"},
		RequestContext: events.LambdaFunctionURLRequestContext{
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: method, Path: path, Protocol: "HTTP/1.1", SourceIP: "127.0.0.1"},
		},
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return out, err
	}
	b, err := l.Invoke(ctx, regionName, FnApp, payload)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, fmt.Errorf("app in %s answered %q: %w", regionName, b, err)
	}
	return out, nil
}
