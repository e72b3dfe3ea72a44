package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/lab/server"

	toxiproxy "github.com/Shopify/toxiproxy/v2"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/region"
)

// FaultKind is the kind of a fault on a regional endpoint.
type FaultKind string

const (
	// FaultCut resets every connection to the endpoint at once: calls fail
	// fast, as when a region is unreachable and the client gives up.
	FaultCut FaultKind = "cut"
	// FaultLatency delays every response from the endpoint.
	FaultLatency FaultKind = "latency"
)

// Fault is one active fault on one service of one region.
type Fault struct {
	Region  string         `json:"region"`
	Service region.Service `json:"service"`
	Kind    FaultKind      `json:"kind"`
	Latency time.Duration  `json:"latency,omitempty"`
}

// String is the fault as `lab status` shows it: service:kind, with the
// latency when it adds one (dynamodb:latency(700ms)).
func (f Fault) String() string {
	s := string(f.Service) + ":" + string(f.Kind)
	if f.Kind == FaultLatency {
		s += "(" + f.Latency.String() + ")"
	}
	return s
}

// labServices are the services each lab region exposes, in display order.
var labServices = []region.Service{region.DynamoDB, region.S3, Lambda}

// ParseService accepts "" or "all" (every service), "dynamodb" or "s3".
func ParseService(s string) ([]region.Service, error) {
	switch strings.ToLower(s) {
	case "", "all":
		return labServices, nil
	case "dynamodb", "ddb":
		return []region.Service{region.DynamoDB}, nil
	case "s3":
		return []region.Service{region.S3}, nil
	case "lambda":
		return []region.Service{Lambda}, nil
	}
	return nil, fmt.Errorf("unknown service %q: use dynamodb, s3, lambda or all", s)
}

// Cut makes a region's services (all when svc is empty) fail fast.
func (l *Lab) Cut(regionName string, svc region.Service) error {
	return l.inject(regionName, svc, Fault{Kind: FaultCut})
}

// AddLatency delays a region's services (all when svc is empty) by d.
func (l *Lab) AddLatency(regionName string, svc region.Service, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("latency %s: give a positive duration such as 200ms", d)
	}
	return l.inject(regionName, svc, Fault{Kind: FaultLatency, Latency: d})
}

func (l *Lab) inject(regionName string, svc region.Service, f Fault) error {
	r, err := l.region(regionName)
	if err != nil {
		return err
	}
	svcs, err := ParseService(string(svc))
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range svcs {
		f.Region, f.Service = r.name, s
		p, proxied := r.proxy[s]
		if r.witness && !proxied {
			continue // the witness has a control table only
		}
		if !proxied {
			// Function invocations check the fault table themselves.
			l.faults[r.name+"/"+string(s)] = f
			l.log.Info("fault injected", "region", r.name, "service", s, "kind", f.Kind)
			continue
		}
		p.Toxics.ResetToxics(context.Background())
		var spec string
		switch f.Kind {
		case FaultCut:
			spec = `{"name":"cut","type":"reset_peer","stream":"upstream","attributes":{"timeout":0}}`
		case FaultLatency:
			spec = fmt.Sprintf(`{"name":"latency","type":"latency","stream":"downstream","attributes":{"latency":%d}}`, f.Latency.Milliseconds())
		}
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(spec)); err != nil {
			return fmt.Errorf("%s %s: %w", f.Kind, p.Name, err)
		}
		l.faults[p.Name] = f
		l.log.Info("fault injected", "region", r.name, "service", s, "kind", f.Kind, "latency", f.Latency)
	}
	return nil
}

// Restore removes every fault from a region, or from all regions when
// regionName is empty.
func (l *Lab) Restore(regionName string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	found := false
	for _, r := range l.allRegions() {
		if regionName != "" && r.name != regionName {
			continue
		}
		found = true
		for _, s := range labServices {
			if p, ok := r.proxy[s]; ok {
				p.Toxics.ResetToxics(context.Background())
			}
			delete(l.faults, r.name+"/"+string(s))
		}
		l.log.Info("faults removed", "region", r.name)
	}
	if !found {
		return fmt.Errorf("no lab region %q: the lab runs %s and %s", regionName, l.opts.Primary, l.opts.DR)
	}
	if regionName == "" && l.restoreLinks() {
		l.SetPaused(false) // the partition paused it (SetPaused does not take l.mu)
	}
	return nil
}

// Faults lists the active faults, sorted by region and service.
func (l *Lab) Faults() []Fault {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Fault, 0, len(l.faults))
	for _, f := range l.faults {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Region != out[j].Region {
			return out[i].Region < out[j].Region
		}
		return out[i].Service < out[j].Service
	})
	return out
}

func serviceOf(s string) region.Service {
	switch strings.ToLower(s) {
	case "", "all":
		return ""
	case "ddb":
		return region.DynamoDB
	}
	return region.Service(strings.ToLower(s))
}

// isCut reports whether a region's service is cut.
func (l *Lab) isCut(regionName string, svc region.Service) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.faults[regionName+"/"+string(svc)]
	return ok && f.Kind == FaultCut
}

// CrashControllerAfter arms (or, with "", disarms) a one-shot crash of the
// DR region's failover controller as its journal write of phase returns.
func (l *Lab) CrashControllerAfter(phase string) error {
	if phase != "" && control.Phase(phase).Index() < 0 {
		return fmt.Errorf("unknown phase %q: use one of %v", phase, control.Phases)
	}
	l.mu.Lock()
	l.crashAfter = phase
	l.mu.Unlock()
	l.log.Info("controller crash armed", "phase", phase)
	return nil
}

// observeControlWrite kills the controller when an armed phase's journal
// row has been written.
func (l *Lab) observeControlWrite(body []byte) {
	l.mu.Lock()
	phase := l.crashAfter
	l.mu.Unlock()
	if phase == "" {
		return
	}
	var req struct {
		TableName string
		Item      map[string]map[string]string
	}
	if json.Unmarshal(body, &req) != nil || req.TableName != l.opts.Names.ControlTable() {
		return
	}
	sk := req.Item[region.ControlSortKey]["S"]
	if !strings.HasPrefix(req.Item[region.ControlHashKey]["S"], "run#") || !strings.HasSuffix(sk, "#"+phase) {
		return
	}
	l.mu.Lock()
	if l.crashAfter != phase {
		l.mu.Unlock()
		return
	}
	l.crashAfter = ""
	p := l.pools[l.opts.DR+"/"+FnController]
	l.mu.Unlock()
	if p == nil {
		return
	}
	p.Kill()
	l.event("fault", l.opts.DR, "failover controller killed after journaling "+phase)
}

// SetClockOffset makes a region's functions read their time offset by d.
func (l *Lab) SetClockOffset(regionName string, d time.Duration) error {
	r, err := l.region(regionName)
	if err != nil {
		return err
	}
	if d > time.Minute || d < -time.Minute {
		return fmt.Errorf("clock offset %s: keep it within a minute", d)
	}
	if err := os.MkdirAll(filepath.Dir(l.clockFile(r.name)), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(l.clockFile(r.name), []byte(d.String()), 0o644); err != nil {
		return err
	}
	l.event("fault", r.name, "functions' clock offset "+d.String())
	return nil
}

// linkProxy starts the proxy from one region's functions to another
// region's service (whose public endpoint is target) and returns its URL.
func (l *Lab) linkProxy(from, to string, svc region.Service, target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", err
	}
	port, err := server.FreePort()
	if err != nil {
		return "", err
	}
	listen := "127.0.0.1:" + strconv.Itoa(port)
	p := toxiproxy.NewProxy(l.proxies, "link "+from+">"+to+"/"+string(svc), listen, u.Host)
	if err := l.proxies.Collection.Add(p, true); err != nil {
		return "", fmt.Errorf("link proxy %s: %w", p.Name, err)
	}
	l.mu.Lock()
	if l.links == nil {
		l.links = map[string][]*toxiproxy.Proxy{}
	}
	k := linkKey(from, to)
	l.links[k] = append(l.links[k], p)
	l.mu.Unlock()
	return "http://" + listen, nil
}

func linkKey(a, b string) string { return a + ">" + b }

// CutLink cuts the network between two regions both ways (their functions
// cannot reach each other, clients still reach both) and pauses replication,
// which crosses the same link: a partition.
func (l *Lab) CutLink(a, b string) error {
	for _, r := range []string{a, b} {
		if _, err := l.region(r); err != nil {
			return err
		}
	}
	if a == b {
		return fmt.Errorf("a link joins two different regions, got %s twice", a)
	}
	l.mu.Lock()
	var ps []*toxiproxy.Proxy
	ps = append(ps, l.links[linkKey(a, b)]...)
	ps = append(ps, l.links[linkKey(b, a)]...)
	l.mu.Unlock()
	for _, p := range ps {
		p.Toxics.ResetToxics(context.Background())
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(`{"name":"cut","type":"reset_peer","stream":"upstream","attributes":{"timeout":0}}`)); err != nil {
			return fmt.Errorf("cut %s: %w", p.Name, err)
		}
	}
	l.mu.Lock()
	l.faults["link "+linkKey(a, b)] = Fault{Region: a + "<>" + b, Kind: FaultCut}
	l.mu.Unlock()
	l.SetPaused(true)
	l.event("fault", a, "link "+a+" <> "+b+" cut; replication paused")
	return nil
}

// restoreLinks ends every link cut; the caller holds l.mu.
func (l *Lab) restoreLinks() bool {
	cut := false
	for k := range l.faults {
		if strings.HasPrefix(k, "link ") {
			delete(l.faults, k)
			cut = true
		}
	}
	for _, ps := range l.links {
		for _, p := range ps {
			p.Toxics.ResetToxics(context.Background())
		}
	}
	return cut
}
