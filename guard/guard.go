// Package guard is the epoch guard for an application pilotlight protects:
// the write path's fence, the same one pilotlight's own orders service
// uses. An application whose writes go through a Guard gets the strongest
// fencing tier `pilotlight protect` offers — the only one that promises no
// split brain and no acknowledged write lost on failback.
//
// A Guard owns no data: it reads its own region's control table (one
// strongly consistent transaction, nothing in another region, so a
// partition cannot make it fail open) and adds a condition on the control
// record to the application's own DynamoDB writes.
//
//	g, err := guard.New(guard.Config{Region: "us-east-1", ControlTable: os.Getenv("PILOTLIGHT_CONTROL_TABLE"), DynamoDB: ddb})
//	err = g.Put(ctx, &dynamodb.PutItemInput{TableName: aws.String("carts"), Item: item})
//	var f *guard.Fenced
//	if errors.As(err, &f) { // 503, and tell the client f.Active
//	}
package guard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotlight/pilotlight/internal/control"
)

// Lease is the lease arithmetic the guard checks against: it must be the
// deployment's (`pilotlight protect apply` sets it on a protected function).
type Lease struct {
	Term    time.Duration // how long one renewal grants
	Epsilon time.Duration // the bound on two regions' clocks' difference
	Delta   time.Duration // how long after its check a write may be applied
}

// Config says which region the guard fences and through what.
type Config struct {
	// Region is the region this code runs in (AWS_REGION on Lambda).
	Region string
	// ControlTable is pilotlight's control table in Region.
	ControlTable string
	// DynamoDB is a client of Region.
	DynamoDB *dynamodb.Client
	// Lease is the deployment's lease (zero: pilotlight's AWS lease,
	// 20 s, ε 500 ms, δ 5 s).
	Lease Lease
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Guard fences one region's writes.
//
// Invariant (no split brain): a write it lets through was checked, in one
// strongly consistent read of this region's control table, to be made
// while this region holds the active record unheld and a lease at that
// epoch valid beyond now + δ + ε; it is applied within δ of that check or
// not at all (its context's deadline), and its transaction still requires
// the record at that (region, epoch). Two regions never both hold such a
// lease (the control package's quorum), so at most one region's guarded
// writes are acknowledged at any time.
type Guard struct {
	cfg   Config
	store *control.Store
}

// New checks cfg and returns a Guard.
func New(cfg Config) (*Guard, error) {
	var missing []string
	if cfg.Region == "" {
		missing = append(missing, "Region")
	}
	if cfg.ControlTable == "" {
		missing = append(missing, "ControlTable")
	}
	if cfg.DynamoDB == nil {
		missing = append(missing, "DynamoDB")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("guard: %v not set: a protected function gets PILOTLIGHT_CONTROL_TABLE from `pilotlight protect apply`, and its region from AWS_REGION", missing)
	}
	if cfg.Lease == (Lease{}) {
		cfg.Lease = Lease(control.AWSLease)
	}
	if err := control.LeaseConfig(cfg.Lease).Validate(0); err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Guard{cfg: cfg, store: control.Open(cfg.Region, cfg.DynamoDB, cfg.ControlTable)}, nil
}

// Fenced is the error of a write this region may not make: the
// application answers 503 and names Active, the region that holds the
// lease (empty when unknown), so clients move there at once.
type Fenced struct {
	Region string // this region
	Active string // the region its control record names
	Reason string
	// Unreachable: the control table could not be read (the write was
	// refused because nothing could be checked, not because another region
	// holds the lease).
	Unreachable bool
}

func (f *Fenced) Error() string {
	return fmt.Sprintf("region %s does not accept writes: %s", f.Region, f.Reason)
}

// Permit is a lease check that passed: writes made under it carry
// Condition and must finish by Deadline.
type Permit struct {
	Epoch    int64
	Checked  time.Time // when the lease was checked
	Deadline time.Time
	// Condition is the transaction item that requires the control record
	// still at (Region, Epoch); Write adds it.
	Condition types.TransactWriteItem
}

// Check reads the region's write state and returns a Permit, or a *Fenced.
// Use it for writes that are not DynamoDB transactions (an S3 object
// written before the item that commits it), under WithDeadline.
func (g *Guard) Check(ctx context.Context) (Permit, error) {
	checked := g.cfg.Now()
	ws, err := g.store.WriteState(ctx)
	if err != nil {
		return Permit{}, &Fenced{Region: g.cfg.Region, Reason: "control table unreachable: " + err.Error(), Unreachable: true}
	}
	if why := ws.Writable(g.cfg.Region, checked, control.LeaseConfig(g.cfg.Lease)); why != nil {
		return Permit{}, &Fenced{Region: g.cfg.Region, Active: ws.Active.Region, Reason: why.Error()}
	}
	return Permit{Epoch: ws.Active.Epoch, Checked: checked, Deadline: checked.Add(g.cfg.Lease.Delta), Condition: g.store.ActiveCondition(ws.Active.Epoch)}, nil
}

// WithDeadline bounds ctx by the permit's deadline: a write applied later
// could outlive the lease it was checked against.
func (p Permit) WithDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithDeadline(ctx, p.Deadline)
}

// Write applies items in one transaction with the permit's condition, under
// the permit's deadline. A condition that fails is a *Fenced (the region
// was fenced between the check and the write).
func (g *Guard) Write(ctx context.Context, p Permit, items ...types.TransactWriteItem) error {
	if len(items) == 0 {
		return errors.New("guard: nothing to write")
	}
	ctx, cancel := p.WithDeadline(ctx)
	defer cancel()
	_, err := g.cfg.DynamoDB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append([]types.TransactWriteItem{p.Condition}, items...)})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) && len(tce.CancellationReasons) > 0 && aws.ToString(tce.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
		a, _ := g.store.Active(context.WithoutCancel(ctx))
		return &Fenced{Region: g.cfg.Region, Active: a.Region, Reason: fmt.Sprintf("was fenced after its lease check at epoch %d", p.Epoch)}
	}
	return err
}

// Put is Check and Write of one item.
func (g *Guard) Put(ctx context.Context, in *dynamodb.PutItemInput) error {
	p, err := g.Check(ctx)
	if err != nil {
		return err
	}
	return g.Write(ctx, p, types.TransactWriteItem{Put: &types.Put{TableName: in.TableName, Item: in.Item,
		ConditionExpression: in.ConditionExpression, ExpressionAttributeNames: in.ExpressionAttributeNames, ExpressionAttributeValues: in.ExpressionAttributeValues}})
}

// The variables `pilotlight protect apply` sets on a guarded function.
const (
	EnvControlTable  = "PILOTLIGHT_CONTROL_TABLE"
	EnvLeaseTerm     = "PILOTLIGHT_LEASE_TERM"
	EnvClockEpsilon  = "PILOTLIGHT_CLOCK_EPSILON"
	EnvWriteDeadline = "PILOTLIGHT_WRITE_DEADLINE"
)

// ConfigFromEnv is the Config a protected function is given in its
// environment: AWS_REGION, PILOTLIGHT_CONTROL_TABLE and the lease
// (PILOTLIGHT_LEASE_TERM, PILOTLIGHT_CLOCK_EPSILON, PILOTLIGHT_WRITE_DEADLINE:
// all three, or none for pilotlight's AWS lease). getenv is os.Getenv.
func ConfigFromEnv(getenv func(string) string, ddb *dynamodb.Client) (Config, error) {
	cfg := Config{Region: getenv("AWS_REGION"), ControlTable: getenv(EnvControlTable), DynamoDB: ddb}
	names := []string{EnvLeaseTerm, EnvClockEpsilon, EnvWriteDeadline}
	dst := []*time.Duration{&cfg.Lease.Term, &cfg.Lease.Epsilon, &cfg.Lease.Delta}
	set := 0
	for i, n := range names {
		v := getenv(n)
		if v == "" {
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return cfg, fmt.Errorf("guard: %s=%q is not a duration (write it as 20s or 500ms): apply the protect plan again to set it", n, v)
		}
		*dst[i] = d
		set++
	}
	if set != 0 && set != len(names) {
		return cfg, fmt.Errorf("guard: the lease needs %s, %s and %s together (or none of them, for pilotlight's AWS lease): apply the protect plan again to set them", names[0], names[1], names[2])
	}
	return cfg, nil
}
