package lab

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

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
