package drill

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/validate"
)

// Switch is the AWS outage switch: a deny-everything policy on the primary
// region's function roles, put on to inject the fault and taken off to heal
// (also when a drill is interrupted).
type Switch interface {
	On(ctx context.Context, region string) ([]string, error)
	Off(ctx context.Context, region string) error
}

// AWS is the drill target of a deployment on AWS.
type AWS struct {
	PrimaryRegion, DRRegion string
	AppNames                region.Names
	// AppURLs are the orders service's function URLs by region (stack outputs).
	AppURLs map[string]string
	Outage  Switch
	Stores  map[string]*control.Store
	Clients map[string]*region.Clients
	// Credentials sign requests to the function URLs (AuthType AWS_IAM).
	Credentials aws.CredentialsProvider
	// Profile is the detection profile deployed: free or fast.
	Profile string
	// Poll is how often clients look up the active region (their "TTL").
	Poll time.Duration

	once   sync.Once
	mu     sync.Mutex
	active string
	client *http.Client
	stop   context.CancelFunc
}

var _ Target = (*AWS)(nil)

func (t *AWS) Kind() string        { return "aws" }
func (t *AWS) Primary() string     { return t.PrimaryRegion }
func (t *AWS) DR() string          { return t.DRRegion }
func (t *AWS) Names() region.Names { return t.AppNames }

// Prepare takes off an outage switch an interrupted drill may have left on,
// and starts the clients' view of the active region.
func (t *AWS) Prepare(ctx context.Context) error {
	if t.AppURLs[t.PrimaryRegion] == "" || t.AppURLs[t.DRRegion] == "" {
		return fmt.Errorf("no orders-service URLs for %s and %s: deploy first (pilotlight deploy)", t.PrimaryRegion, t.DRRegion)
	}
	if err := t.Outage.Off(ctx, t.PrimaryRegion); err != nil {
		return err
	}
	t.once.Do(func() {
		t.client = &http.Client{Timeout: 10 * time.Second, Transport: &region.SigV4Transport{Credentials: t.Credentials, Service: "lambda"}}
		if t.Poll == 0 {
			t.Poll = time.Second
		}
		t.active = t.PrimaryRegion
		pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		t.stop = cancel
		go t.watch(pctx)
	})
	return nil
}

// Close stops the active-region watcher.
func (t *AWS) Close() {
	if t.stop != nil {
		t.stop()
	}
}

// watch keeps the highest-epoch active record of the two control tables:
// where a client that follows pilotlight's routing sends writes.
func (t *AWS) watch(ctx context.Context) {
	tick := time.NewTicker(t.Poll)
	defer tick.Stop()
	for {
		var best control.Active
		for _, s := range t.Stores {
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			a, err := s.Active(rctx)
			cancel()
			if err == nil && a.Epoch > best.Epoch {
				best = a
			}
		}
		if best.Region != "" {
			t.mu.Lock()
			t.active = best.Region
			t.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (t *AWS) Inject(ctx context.Context, r string) (string, error) {
	roles, err := t.Outage.On(ctx, r)
	return fmt.Sprintf("outage switch on in %s: deny-all policy on %s", r, strings.Join(roles, ", ")), err
}

func (t *AWS) Heal(ctx context.Context, r string) error {
	if r == "" {
		r = t.PrimaryRegion
	}
	return t.Outage.Off(ctx, r)
}

// FailbackReplication: on AWS the stacks own the replication rules.
func (t *AWS) FailbackReplication(bool) error { return nil }

func (t *AWS) URL() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.AppURLs[t.active]
}

func (t *AWS) HTTP() *http.Client { return t.client }

// RegionURL is the region's function URL.
func (t *AWS) RegionURL(r string) string { return t.AppURLs[r] }

func (t *AWS) Routed(context.Context) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.active, true
}

func (t *AWS) DetectionFloor(context.Context) (time.Duration, string) {
	period := time.Minute
	if t.Profile == "fast" {
		period = 10 * time.Second
	}
	return 3*period + t.Poll, fmt.Sprintf("alarm 3 × %s (%s profile) + client lookup %s", period, t.Profile, t.Poll)
}

func (t *AWS) Events(context.Context, time.Time) []lab.Event { return nil }

// Validate compares the regions from here with the validator's code (the
// deployed data-validator function runs the same on its schedule).
func (t *AWS) Validate(ctx context.Context) (*validate.Report, error) {
	v := &validate.Validator{
		Primary: validate.SideFor(t.Clients[t.PrimaryRegion], t.AppNames, true),
		DR:      validate.SideFor(t.Clients[t.DRRegion], t.AppNames, true),
		Settle:  30 * time.Second,
	}
	return v.Run(ctx)
}
