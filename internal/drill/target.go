package drill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/validate"
)

// Target is where a drill runs: the lab, or a deployment on AWS. The drill
// — workload, fault, detection, failover, RTO and RPO, failback, checks —
// is the same on both; a Target supplies the fault, the way clients reach
// the service, and what it knows about its own detection.
type Target interface {
	Kind() string // "lab" or "aws"
	Primary() string
	DR() string
	Names() region.Names
	// Prepare ends faults and pauses an earlier drill may have left.
	Prepare(ctx context.Context) error
	// Inject takes a region down and says how.
	Inject(ctx context.Context, region string) (string, error)
	// Heal ends the faults of a region ("" for every region).
	Heal(ctx context.Context, region string) error
	// FailbackReplication turns DR → primary object replication on or off.
	FailbackReplication(on bool) error
	// URL is where a client sends a write now; HTTP sends it.
	URL() string
	// RegionURL is where a client sends a write to one region.
	RegionURL(region string) string
	HTTP() *http.Client
	// Routed names the region clients are sent to now ("" if unknown) and
	// whether that answer is settled.
	Routed(ctx context.Context) (string, bool)
	// DetectionFloor is the least time detection and routing can take.
	DetectionFloor(ctx context.Context) (time.Duration, string)
	// Events are the target's own records of what happened (may be none).
	Events(ctx context.Context, since time.Time) []lab.Event
	// Validate compares the two regions' data.
	Validate(ctx context.Context) (*validate.Report, error)
}

// Lab is the drill target of a running lab.
func Lab(c *lab.Client) Target { return &labTarget{c: c, http: &http.Client{Timeout: 5 * time.Second}} }

type labTarget struct {
	c    *lab.Client
	http *http.Client
}

func (t *labTarget) Kind() string        { return "lab" }
func (t *labTarget) Primary() string     { return t.c.State.Primary }
func (t *labTarget) DR() string          { return t.c.State.DR }
func (t *labTarget) Names() region.Names { return t.c.State.Names() }
func (t *labTarget) URL() string         { return t.c.State.FrontDoor }
func (t *labTarget) RegionURL(r string) string {
	return t.c.State.FrontDoor + "/_region/" + r
}
func (t *labTarget) HTTP() *http.Client { return t.http }

func (t *labTarget) Prepare(context.Context) error {
	if t.c.State.FrontDoor == "" {
		return errors.New("the lab runs without functions: run `make build`, then `pilotlight lab down` and `pilotlight lab up`")
	}
	if err := t.c.Restore(""); err != nil {
		return err
	}
	return t.c.ResumeReplication()
}

func (t *labTarget) Inject(_ context.Context, r string) (string, error) {
	return r + " cut off (DynamoDB, S3, Lambda)", t.c.Cut(r, "")
}

func (t *labTarget) Heal(_ context.Context, r string) error { return t.c.Restore(r) }
func (t *labTarget) FailbackReplication(on bool) error      { return t.c.SetFailbackReplication(on) }
func (t *labTarget) Events(ctx context.Context, since time.Time) []lab.Event {
	evs, _ := t.c.Events(ctx, since)
	return evs
}

func (t *labTarget) Routed(ctx context.Context) (string, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.c.State.FrontDoor+"/_pilotlight/routing", nil)
	if err != nil {
		return "", false
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var rs lab.RoutingStatus
	if err := json.NewDecoder(resp.Body).Decode(&rs); err != nil {
		return "", false
	}
	return rs.Answer, rs.Answer == rs.Pending
}

func (t *labTarget) DetectionFloor(ctx context.Context) (time.Duration, string) {
	st, err := t.c.ReplicationStatus(ctx)
	if err != nil || st.Functions == nil {
		return 0, ""
	}
	fo := st.Functions
	return time.Duration(fo.AlarmPeriods)*fo.HealthInterval + fo.RouteTTL, fmt.Sprintf("alarm %d × %s + TTL %s", fo.AlarmPeriods, fo.HealthInterval, fo.RouteTTL)
}

// Validate has the lab's data-validator function (the real binary, in the
// DR region) compare the regions.
func (t *labTarget) Validate(ctx context.Context) (*validate.Report, error) {
	out, err := t.c.Invoke(ctx, t.DR(), lab.FnValidator, []byte(`{"settle":"5s"}`))
	if err != nil {
		return nil, err
	}
	var v validate.Report
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, fmt.Errorf("the function returned %q: %w", out, err)
	}
	return &v, nil
}
