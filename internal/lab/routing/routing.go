package routing

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

// Invoker calls a function in a region (the lab's Lambda).
type Invoker func(ctx context.Context, region, function string, payload []byte) ([]byte, error)

// Config is the front door's routing and what it reaches.
type Config struct {
	Primary, DR string
	// Interval between health checks; Threshold consecutive results flip a
	// region's health; TTL: how long clients keep an answer.
	Interval  time.Duration
	Threshold int
	TTL       time.Duration
	// App is the orders service's function name on AWS (for the Gate);
	// AppFunction its lab name, which Invoke takes.
	App, AppFunction string
	Invoke           Invoker
	// Gate, when set, decides a request to a region's function URL: it
	// writes the refusal and returns false (the lab's IAM).
	Gate func(region, function string, w http.ResponseWriter, r *http.Request) bool
	// Alarm, when set, gives the detection alarm's name and state, served
	// at /_pilotlight/alarm.
	Alarm func() (name, state string)
	// Event records what happened (the lab's event log).
	Event func(kind, region, detail string)
}

// FrontDoor stands in for Route 53 failover routing and the orders
// service's function URLs (Start).
type FrontDoor struct {
	cfg Config
	srv *http.Server

	mu      sync.Mutex
	checks  map[string]*Check
	answer  string
	pending string    // the answer clients will get once their cache expires
	flipAt  time.Time // when pending becomes the answer
}

// Check is one region's health check, as the routing view shows it.
type Check struct {
	Healthy  bool      `json:"healthy"`
	Fails    int       `json:"consecutive_failures"`
	OKs      int       `json:"consecutive_successes"`
	LastErr  string    `json:"last_error,omitempty"`
	Changed  time.Time `json:"changed,omitzero"`
	checking bool
}

// Start serves on ln: the routed orders service, each region's own
// (/_region/<name>/…), and the routing and alarm views (/_pilotlight/…).
// Run does the health checks.
func Start(ln net.Listener, cfg Config) *FrontDoor {
	fd := &FrontDoor{cfg: cfg, checks: map[string]*Check{}, answer: cfg.Primary, pending: cfg.Primary}
	for _, r := range []string{cfg.Primary, cfg.DR} {
		// Start healthy, as a fresh Route 53 health check does.
		fd.checks[r] = &Check{Healthy: true}
	}
	fd.srv = &http.Server{Handler: fd, ReadHeaderTimeout: 5 * time.Second}
	go fd.srv.Serve(ln)
	return fd
}

// Close stops serving.
func (fd *FrontDoor) Close() { fd.srv.Close() }

// Run health-checks both regions every interval until ctx ends.
func (fd *FrontDoor) Run(ctx context.Context) {
	tick := time.NewTicker(fd.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, r := range []string{fd.cfg.Primary, fd.cfg.DR} {
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

func (fd *FrontDoor) check(ctx context.Context, r string) {
	ctx, cancel := context.WithTimeout(ctx, fd.cfg.Interval)
	defer cancel()
	resp, err := InvokeHTTP(ctx, fd.cfg.Invoke, fd.cfg.AppFunction, r, http.MethodGet, "/health", nil)
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
	case c.Healthy && c.Fails >= fd.cfg.Threshold:
		c.Healthy, c.Changed = false, time.Now()
		fd.cfg.Event("health-check", r, "routing marks "+r+" unhealthy: "+c.LastErr)
	case !c.Healthy && c.OKs >= fd.cfg.Threshold:
		c.Healthy, c.Changed = true, time.Now()
		fd.cfg.Event("health-check", r, "routing marks "+r+" healthy")
	}
	want := fd.cfg.Primary
	if !fd.checks[fd.cfg.Primary].Healthy && fd.checks[fd.cfg.DR].Healthy {
		want = fd.cfg.DR
	}
	if want != fd.pending {
		fd.pending = want
		fd.flipAt = time.Now().Add(fd.cfg.TTL)
		fd.cfg.Event("route-record", want, "answer changes to "+want+"; clients follow within the TTL")
		// Clients' cached answers expire a TTL from now, not at the next
		// check: flip then.
		time.AfterFunc(fd.cfg.TTL, fd.flip)
	}
}

// flip sends clients to the pending answer once its TTL has passed.
func (fd *FrontDoor) flip() {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if fd.pending != fd.answer && !time.Now().Before(fd.flipAt) {
		fd.cfg.Event("route", fd.pending, "clients now sent to "+fd.pending+" (was "+fd.answer+")")
		fd.answer = fd.pending
	}
}

// RoutingStatus is the front door's view, served at /_pilotlight/routing.
type RoutingStatus struct {
	Answer  string            `json:"answer"`
	Pending string            `json:"pending"`
	Regions map[string]*Check `json:"regions"`
}

// Status is the routing view: the answer, the pending one, each check.
func (fd *FrontDoor) Status() RoutingStatus {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	st := RoutingStatus{Answer: fd.answer, Pending: fd.pending, Regions: map[string]*Check{}}
	for r, c := range fd.checks {
		cp := *c
		st.Regions[r] = &cp
	}
	return st
}

func (fd *FrontDoor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_pilotlight/routing" {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(fd.Status())
		return
	}
	if r.URL.Path == "/_pilotlight/alarm" {
		// The alarm's state, as cloudwatch:DescribeAlarms gives it on AWS:
		// the controller's scheduled tick reads it.
		state, name := "INSUFFICIENT_DATA", ""
		if fd.cfg.Alarm != nil {
			name, state = fd.cfg.Alarm()
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
	if fd.cfg.Gate != nil && !fd.cfg.Gate(target, fd.cfg.App, w, r) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "request body: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	resp, err := InvokeHTTP(r.Context(), fd.cfg.Invoke, fd.cfg.AppFunction, target, r.Method, path, body)
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

// InvokeHTTP sends an HTTP request to a region's app function as a
// function-URL event.
func InvokeHTTP(ctx context.Context, invoke Invoker, app, regionName, method, path string, body []byte) (events.LambdaFunctionURLResponse, error) {
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
	b, err := invoke(ctx, regionName, app, payload)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, fmt.Errorf("app in %s answered %q: %w", regionName, b, err)
	}
	return out, nil
}
