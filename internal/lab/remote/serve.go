package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/lab/functions"
	"github.com/pilotlight/pilotlight/internal/lab/replication"
	"github.com/pilotlight/pilotlight/internal/lab/server"
	"github.com/pilotlight/pilotlight/internal/timeline"
)

// Serve runs a lab until ctx ends: it starts it, serves the control endpoint
// on 127.0.0.1, writes the state file, and on return stops everything and
// removes the state. It is what `pilotlight lab up` runs in the background.
func Serve(ctx context.Context, opts lab.Options, ready func(State)) error {
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return fmt.Errorf("lab dir: %w", err)
	}
	if s, err := ReadState(opts.Dir); err == nil && s.Alive() && s.Pid != os.Getpid() {
		return fmt.Errorf("a lab already runs from %s (pid %d): use it, or stop it with `pilotlight lab down`", opts.Dir, s.Pid)
	}
	l, err := lab.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer l.Close()
	addr := "127.0.0.1:0"
	if opts.BasePort != 0 {
		addr = "127.0.0.1:" + strconv.Itoa(opts.BasePort+4)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return &server.PortInUseError{Port: opts.BasePort + 4}
	}
	token := rand.Text()
	srv := &http.Server{Handler: controlHandler(l, token), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	st := State{
		Version: stateVersion, Pid: os.Getpid(), Started: time.Now().UTC(), Control: "http://" + ln.Addr().String(), Token: token,
		App: l.Names().App, Primary: opts.Primary, DR: opts.DR, Credentials: l.Credentials(), Regions: map[string]RegionState{},
		FrontDoor: l.FrontDoorURL(), AgreementWait: opts.Functions.AgreementWait(), ControllerEnv: l.ControllerEnv(),
	}
	for _, r := range l.Layout() {
		rs := RegionState{Endpoints: r.Endpoints, Pids: r.Pids, Behind: r.Behind}
		if r.Witness {
			st.Witness, st.WitnessRegion = r.Name, &RegionState{Endpoints: r.Endpoints, Pids: r.Pids}
			continue
		}
		st.Regions[r.Name] = rs
	}
	if err := writeState(opts.Dir, st); err != nil {
		return err
	}
	defer os.Remove(statePath(opts.Dir))
	if ready != nil {
		ready(st)
	}
	<-ctx.Done()
	return nil
}

// controlRequest is the body of a POST to the control endpoint.
type controlRequest struct {
	Action  string               `json:"action"` // cut, latency, restore, pause, resume, lag, failback
	Region  string               `json:"region,omitempty"`
	Service string               `json:"service,omitempty"`
	Latency string               `json:"latency,omitempty"` // a Go duration
	On      bool                 `json:"on,omitempty"`
	Phase   string               `json:"phase,omitempty"`   // crash
	Offset  string               `json:"offset,omitempty"`  // clock: a Go duration, may be negative
	Adopted *replication.Adopted `json:"adopted,omitempty"` // replicate, unreplicate
}

func controlHandler(l *lab.Lab, token string) http.Handler {
	c := inProcess{l}
	mux := http.NewServeMux()
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+token {
				http.Error(w, "bad or missing token", http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /status", auth(func(w http.ResponseWriter, r *http.Request) {
		var st lab.Status
		if r.URL.Query().Get("replication") == "only" {
			st, _ = c.ReplicationStatus(r.Context())
		} else {
			st, _ = c.Status(r.Context())
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(st)
	}))
	mux.HandleFunc("GET /events", auth(func(w http.ResponseWriter, r *http.Request) {
		since, _ := time.Parse(time.RFC3339Nano, r.URL.Query().Get("since"))
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(l.Events(since))
	}))
	mux.HandleFunc("POST /invoke/{region}/{function}", auth(func(w http.ResponseWriter, r *http.Request) {
		payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 6<<20))
		if err != nil {
			http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		out, err := l.Invoke(r.Context(), r.PathValue("region"), r.PathValue("function"), payload)
		var fe *functions.Error
		switch {
		case errors.As(err, &fe):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			json.NewEncoder(w).Encode(fe)
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadGateway)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Write(out)
		}
	}))
	mux.HandleFunc("POST /control", auth(func(w http.ResponseWriter, r *http.Request) {
		var req controlRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
			http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := apply(r.Context(), c, req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	return mux
}

func apply(ctx context.Context, c Operator, req controlRequest) error {
	d := time.Duration(0)
	if req.Latency != "" {
		var err error
		if d, err = time.ParseDuration(req.Latency); err != nil {
			return fmt.Errorf("latency %q: write it like 200ms", req.Latency)
		}
	}
	switch req.Action {
	case "cut":
		return c.Cut(ctx, req.Region, req.Service)
	case "latency":
		return c.AddLatency(ctx, req.Region, req.Service, d)
	case "restore":
		return c.Restore(ctx, req.Region)
	case "pause":
		return c.PauseReplication(ctx)
	case "resume":
		return c.ResumeReplication(ctx)
	case "lag":
		return c.SetReplicationLag(ctx, d)
	case "failback":
		return c.SetFailbackReplication(ctx, req.On)
	case "crash":
		return c.CrashControllerAfter(ctx, req.Phase)
	case "link":
		return c.CutLink(ctx, req.Region, req.Service)
	case "kick":
		return c.KickReplication(ctx)
	case "replicate", "unreplicate":
		if req.Adopted == nil {
			return errors.New("name the adopted table or bucket")
		}
		if req.Action == "replicate" {
			return c.Replicate(ctx, *req.Adopted)
		}
		return c.StopReplicating(ctx, *req.Adopted)
	case "late-health":
		return c.LateHealthChecks(ctx, req.Region, d)
	case "clock":
		off, err := time.ParseDuration(req.Offset)
		if err != nil {
			return fmt.Errorf("clock offset %q: write it like 125ms or -125ms", req.Offset)
		}
		return c.SetClockOffset(ctx, req.Region, off)
	}
	return fmt.Errorf("unknown action %q", req.Action)
}

// Client controls a lab running in another process through its control
// endpoint.
type Client struct {
	State State
	Dir   string // the lab directory
	HTTP  *http.Client
}

var _ Operator = (*Client)(nil)

// Connect reads the state in dir and returns a client for the running lab.
func Connect(dir string) (*Client, error) {
	s, err := ReadState(dir)
	if err != nil {
		return nil, err
	}
	if !s.Alive() {
		return nil, fmt.Errorf("the lab in %s is not running (pid %d is gone; it crashed or was killed): run `pilotlight lab up` to clean up and start again", dir, s.Pid)
	}
	return &Client{State: s, Dir: dir, HTTP: &http.Client{Timeout: 10 * time.Second}}, nil
}

func (c *Client) post(ctx context.Context, req controlRequest) error {
	b, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.State.Control+"/control", bytes.NewReader(b))
	if err != nil {
		return err
	}
	hr.Header.Set("Authorization", "Bearer "+c.State.Token)
	resp, err := c.HTTP.Do(hr)
	if err != nil {
		return fmt.Errorf("lab control: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		var msg [512]byte
		n, _ := resp.Body.Read(msg[:])
		return errors.New(string(msg[:n]))
	}
	return nil
}

func (c *Client) Cut(ctx context.Context, r, svc string) error {
	return c.post(ctx, controlRequest{Action: "cut", Region: r, Service: svc})
}
func (c *Client) AddLatency(ctx context.Context, r, svc string, d time.Duration) error {
	return c.post(ctx, controlRequest{Action: "latency", Region: r, Service: svc, Latency: d.String()})
}
func (c *Client) Restore(ctx context.Context, r string) error {
	return c.post(ctx, controlRequest{Action: "restore", Region: r})
}
func (c *Client) PauseReplication(ctx context.Context) error {
	return c.post(ctx, controlRequest{Action: "pause"})
}
func (c *Client) ResumeReplication(ctx context.Context) error {
	return c.post(ctx, controlRequest{Action: "resume"})
}
func (c *Client) SetReplicationLag(ctx context.Context, d time.Duration) error {
	return c.post(ctx, controlRequest{Action: "lag", Latency: d.String()})
}
func (c *Client) SetFailbackReplication(ctx context.Context, on bool) error {
	return c.post(ctx, controlRequest{Action: "failback", On: on})
}

// CrashControllerAfter implements Operator.
func (c *Client) CrashControllerAfter(ctx context.Context, phase string) error {
	return c.post(ctx, controlRequest{Action: "crash", Phase: phase})
}

// KickReplication implements Operator.
func (c *Client) KickReplication(ctx context.Context) error {
	return c.post(ctx, controlRequest{Action: "kick"})
}

// Replicate implements Operator.
func (c *Client) Replicate(ctx context.Context, a replication.Adopted) error {
	return c.post(ctx, controlRequest{Action: "replicate", Adopted: &a})
}

// StopReplicating implements Operator.
func (c *Client) StopReplicating(ctx context.Context, a replication.Adopted) error {
	return c.post(ctx, controlRequest{Action: "unreplicate", Adopted: &a})
}

// CutLink implements Operator.
func (c *Client) CutLink(ctx context.Context, a, b string) error {
	return c.post(ctx, controlRequest{Action: "link", Region: a, Service: b})
}

// LateHealthChecks implements Operator.
func (c *Client) LateHealthChecks(ctx context.Context, r string, d time.Duration) error {
	return c.post(ctx, controlRequest{Action: "late-health", Region: r, Latency: d.String()})
}

// SetClockOffset implements Operator.
func (c *Client) SetClockOffset(ctx context.Context, r string, d time.Duration) error {
	return c.post(ctx, controlRequest{Action: "clock", Region: r, Offset: d.String()})
}

// Status fetches the lab's status.
func (c *Client) Status(ctx context.Context) (lab.Status, error) { return c.status(ctx, "") }

// ReplicationStatus implements Operator.
func (c *Client) ReplicationStatus(ctx context.Context) (lab.Status, error) {
	return c.status(ctx, "?replication=only")
}

func (c *Client) status(ctx context.Context, query string) (lab.Status, error) {
	var st lab.Status
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, c.State.Control+"/status"+query, nil)
	if err != nil {
		return st, err
	}
	hr.Header.Set("Authorization", "Bearer "+c.State.Token)
	resp, err := c.HTTP.Do(hr)
	if err != nil {
		return st, fmt.Errorf("lab status: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("lab status: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// Invoke calls a function in a lab region and returns its response. A
// function's own error comes back as a *functions.Error.
func (c *Client) Invoke(ctx context.Context, regionName, function string, payload []byte) ([]byte, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.State.Control+"/invoke/"+url.PathEscape(regionName)+"/"+url.PathEscape(function), bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Authorization", "Bearer "+c.State.Token)
	hc := *c.HTTP
	hc.Timeout = 0 // the function's own timeout bounds it
	resp, err := hc.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("lab invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("lab invoke: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return body, nil
	case http.StatusUnprocessableEntity:
		var fe functions.Error
		if json.Unmarshal(body, &fe) == nil {
			return nil, &fe
		}
	}
	return nil, fmt.Errorf("lab invoke %s in %s: %s", function, regionName, strings.TrimSpace(string(body)))
}

// Events fetches the lab's events since t.
func (c *Client) Events(ctx context.Context, since time.Time) ([]timeline.Event, error) {
	var evs []timeline.Event
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, c.State.Control+"/events?since="+since.UTC().Format(time.RFC3339Nano), nil)
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Authorization", "Bearer "+c.State.Token)
	resp, err := c.HTTP.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("lab events: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("lab events: %s", resp.Status)
	}
	return evs, json.NewDecoder(resp.Body).Decode(&evs)
}
