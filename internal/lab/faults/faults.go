package faults

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"

	"github.com/pilotlight/pilotlight/internal/lab/server"
	"github.com/pilotlight/pilotlight/internal/region"
)

// Kind is the kind of a fault on a regional endpoint.
type Kind string

const (
	// Cut resets every connection to the endpoint at once: calls fail
	// fast, as when a region is unreachable and the client gives up.
	Cut Kind = "cut"
	// Latency delays every response from the endpoint.
	Latency Kind = "latency"
)

// Lambda is the lab's function invocations as a service that faults take:
// they are not proxied, the lab's invoke path asks Fault.
const Lambda region.Service = "lambda"

// Services are the services each lab region exposes, in display order.
var Services = []region.Service{region.DynamoDB, region.S3, Lambda}

// Fault is one active fault on one service of one region.
type Fault struct {
	Region  string         `json:"region"`
	Service region.Service `json:"service"`
	Kind    Kind           `json:"kind"`
	Latency time.Duration  `json:"latency,omitempty"`
}

// String is the fault as `lab status` shows it: service:kind, with the
// latency when it adds one (dynamodb:latency(700ms)).
func (f Fault) String() string {
	s := string(f.Service) + ":" + string(f.Kind)
	if f.Kind == Latency {
		s += "(" + f.Latency.String() + ")"
	}
	return s
}

// ParseService accepts "" or "all" (every service), "dynamodb" (or "ddb"),
// "s3" or "lambda".
func ParseService(s string) ([]region.Service, error) {
	switch strings.ToLower(s) {
	case "", "all":
		return Services, nil
	case "dynamodb", "ddb":
		return []region.Service{region.DynamoDB}, nil
	case "s3":
		return []region.Service{region.S3}, nil
	case "lambda":
		return []region.Service{Lambda}, nil
	}
	return nil, fmt.Errorf("unknown service %q: use dynamodb, s3, lambda or all", s)
}

// Injector owns the lab's fault proxies — one per region and service, and
// one per link from one region's functions to another region's service —
// and the faults on them.
type Injector struct {
	api *toxiproxy.ApiServer
	log *slog.Logger

	mu      sync.Mutex
	regions map[string]map[region.Service]*toxiproxy.Proxy // region -> proxied services
	witness map[string]bool                                // control table only: unproxied services have nothing to fault
	faults  map[string]Fault                               // "region/service" or "link a>b"
	links   map[string][]*toxiproxy.Proxy                  // "from>to" -> link proxies of from's functions
}

// New is an injector with no proxies yet.
func New(log *slog.Logger) *Injector {
	return &Injector{api: toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()), log: log,
		regions: map[string]map[region.Service]*toxiproxy.Proxy{}, witness: map[string]bool{}, faults: map[string]Fault{}, links: map[string][]*toxiproxy.Proxy{}}
}

// Region declares a region whose services faults may take. A witness
// holds a control table only: a fault on its other services is a no-op.
func (i *Injector) Region(name string, witness bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.regions[name] == nil {
		i.regions[name] = map[region.Service]*toxiproxy.Proxy{}
	}
	i.witness[name] = witness
}

// Proxy puts a fault proxy listening on listen (127.0.0.1:port) before a
// region's service at upstream.
func (i *Injector) Proxy(regionName string, svc region.Service, listen, upstream string) error {
	p := toxiproxy.NewProxy(i.api, regionName+"/"+string(svc), listen, upstream)
	if err := i.api.Collection.Add(p, true); err != nil {
		if strings.Contains(err.Error(), "address already in use") {
			port, _ := strconv.Atoi(listen[strings.LastIndexByte(listen, ':')+1:])
			return &server.PortInUseError{Port: port}
		}
		return fmt.Errorf("proxy %s: %w", p.Name, err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.regions[regionName] == nil {
		return fmt.Errorf("proxy %s: declare region %s first", p.Name, regionName)
	}
	i.regions[regionName][svc] = p
	return nil
}

// Link starts the proxy from one region's functions to another region's
// service (whose public endpoint is target) and returns its URL.
func (i *Injector) Link(from, to string, svc region.Service, target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", err
	}
	port, err := server.FreePort()
	if err != nil {
		return "", err
	}
	listen := "127.0.0.1:" + strconv.Itoa(port)
	p := toxiproxy.NewProxy(i.api, "link "+from+">"+to+"/"+string(svc), listen, u.Host)
	if err := i.api.Collection.Add(p, true); err != nil {
		return "", fmt.Errorf("link proxy %s: %w", p.Name, err)
	}
	i.mu.Lock()
	k := linkKey(from, to)
	i.links[k] = append(i.links[k], p)
	i.mu.Unlock()
	return "http://" + listen, nil
}

func linkKey(a, b string) string { return a + ">" + b }

// Cut makes a region's services (all when svc is empty) fail fast.
func (i *Injector) Cut(regionName string, svc region.Service) error {
	return i.inject(regionName, svc, Fault{Kind: Cut})
}

// AddLatency delays a region's services (all when svc is empty) by d.
func (i *Injector) AddLatency(regionName string, svc region.Service, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("latency %s: give a positive duration such as 200ms", d)
	}
	return i.inject(regionName, svc, Fault{Kind: Latency, Latency: d})
}

func (i *Injector) inject(regionName string, svc region.Service, f Fault) error {
	svcs, err := ParseService(string(svc))
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	proxies, ok := i.regions[regionName]
	if !ok {
		return fmt.Errorf("no lab region %q: the lab runs %s", regionName, strings.Join(i.names(), ", "))
	}
	witness := i.witness[regionName]
	for _, s := range svcs {
		f.Region, f.Service = regionName, s
		p, proxied := proxies[s]
		if witness && !proxied {
			continue
		}
		if !proxied {
			// Function invocations check the fault table themselves.
			i.faults[regionName+"/"+string(s)] = f
			i.log.Info("fault injected", "region", regionName, "service", s, "kind", f.Kind)
			continue
		}
		p.Toxics.ResetToxics(context.Background())
		var spec string
		switch f.Kind {
		case Cut:
			spec = `{"name":"cut","type":"reset_peer","stream":"upstream","attributes":{"timeout":0}}`
		case Latency:
			spec = fmt.Sprintf(`{"name":"latency","type":"latency","stream":"downstream","attributes":{"latency":%d}}`, f.Latency.Milliseconds())
		}
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(spec)); err != nil {
			return fmt.Errorf("%s %s: %w", f.Kind, p.Name, err)
		}
		i.faults[p.Name] = f
		i.log.Info("fault injected", "region", regionName, "service", s, "kind", f.Kind, "latency", f.Latency)
	}
	return nil
}

// names are the regions, sorted.
func (i *Injector) names() []string {
	var out []string
	for r := range i.regions {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Restore removes every fault from a region, or from every region and
// link when regionName is empty; links reports whether a link was cut.
func (i *Injector) Restore(regionName string) (links bool, err error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	found := false
	for name, proxies := range i.regions {
		if regionName != "" && name != regionName {
			continue
		}
		found = true
		for _, s := range Services {
			if p, ok := proxies[s]; ok {
				p.Toxics.ResetToxics(context.Background())
			}
			delete(i.faults, name+"/"+string(s))
		}
		i.log.Info("faults removed", "region", name)
	}
	if !found {
		return false, fmt.Errorf("no lab region %q: the lab runs %s", regionName, strings.Join(i.names(), ", "))
	}
	if regionName != "" {
		return false, nil
	}
	for k := range i.faults {
		if strings.HasPrefix(k, "link ") {
			delete(i.faults, k)
			links = true
		}
	}
	for _, ps := range i.links {
		for _, p := range ps {
			p.Toxics.ResetToxics(context.Background())
		}
	}
	return links, nil
}

// CutLink cuts the network between two regions both ways: their
// functions cannot reach each other; clients still reach both.
func (i *Injector) CutLink(a, b string) error {
	i.mu.Lock()
	for _, r := range []string{a, b} {
		if _, ok := i.regions[r]; !ok {
			i.mu.Unlock()
			return fmt.Errorf("no lab region %q: the lab runs %s", r, strings.Join(i.names(), ", "))
		}
	}
	ps := append(append([]*toxiproxy.Proxy(nil), i.links[linkKey(a, b)]...), i.links[linkKey(b, a)]...)
	i.mu.Unlock()
	if a == b {
		return fmt.Errorf("a link joins two different regions, got %s twice", a)
	}
	for _, p := range ps {
		p.Toxics.ResetToxics(context.Background())
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(`{"name":"cut","type":"reset_peer","stream":"upstream","attributes":{"timeout":0}}`)); err != nil {
			return fmt.Errorf("cut %s: %w", p.Name, err)
		}
	}
	i.mu.Lock()
	i.faults["link "+linkKey(a, b)] = Fault{Region: a + "<>" + b, Kind: Cut}
	i.mu.Unlock()
	return nil
}

// Fault is the fault on a region's service, if any.
func (i *Injector) Fault(regionName string, svc region.Service) (Fault, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	f, ok := i.faults[regionName+"/"+string(svc)]
	return f, ok
}

// IsCut reports whether a region's service is cut.
func (i *Injector) IsCut(regionName string, svc region.Service) bool {
	f, ok := i.Fault(regionName, svc)
	return ok && f.Kind == Cut
}

// Faults lists the active faults, sorted by region and service.
func (i *Injector) Faults() []Fault {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := make([]Fault, 0, len(i.faults))
	for _, f := range i.faults {
		out = append(out, f)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Region != out[b].Region {
			return out[a].Region < out[b].Region
		}
		return out[a].Service < out[b].Service
	})
	return out
}

// Close removes every proxy.
func (i *Injector) Close() { _ = i.api.Collection.Clear() }
