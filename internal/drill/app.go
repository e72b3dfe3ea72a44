package drill

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pilotlight/pilotlight/guard"
	"github.com/pilotlight/pilotlight/internal/drill/report"
	"github.com/pilotlight/pilotlight/internal/drill/workload"
	"github.com/pilotlight/pilotlight/internal/validate"
)

// App is a protected application a drill runs on instead of the orders
// service (drill --app): its workload writes the application's items to
// its own table in the routed region — through the guard package at the
// epoch-guard tier, plainly at any other (routing only, kill switch) — and
// RPO, failback loss and split brain are counted from that table.
type App struct {
	Name  string
	Table string
	// Item is the item template (workload.Template; "": the table's key
	// alone, a string key holding the write's id, a number its number).
	Item string
	// Tier and Promise are the plan's: the tier decides how the workload
	// writes and what counts as a failure; both are printed with the
	// report.
	Tier, Promise string
}

// Guarded reports whether the application's writes go through the guard:
// only then are no split brain and no failback loss promised.
func (a *App) Guarded() bool { return a.Tier == report.EpochGuard }

// subject is what a drill writes and looks up: the orders service's
// orders, or a protected application's items.
type subject interface {
	// missingItems: the ids whose item the region's table lacks.
	missingItems(ctx context.Context, region string, ids []string) ([]string, error)
	// missingObjects: the ids whose object the region's bucket lacks
	// (none for a subject that writes no objects).
	missingObjects(ctx context.Context, region string, ids []string) ([]string, error)
	// lookup: the writes of ids the region holds, with who committed them.
	lookup(ctx context.Context, region string, ids []string) (map[string]workload.Order, error)
}

type orders struct{ d *Drill }

func (o orders) missingItems(ctx context.Context, r string, ids []string) ([]string, error) {
	return workload.MissingItems(ctx, o.d.Clients[r], o.d.Names, ids)
}

func (o orders) missingObjects(ctx context.Context, r string, ids []string) ([]string, error) {
	return workload.MissingAttachments(ctx, o.d.Clients[r], o.d.Names, ids)
}

func (o orders) lookup(ctx context.Context, r string, ids []string) (map[string]workload.Order, error) {
	return workload.LookupOrders(ctx, o.d.Clients[r], o.d.Names, ids)
}

// appSubject is a protected application's table.
type appSubject struct {
	d   *Drill
	app *workload.App
}

func (a appSubject) missingItems(ctx context.Context, r string, ids []string) ([]string, error) {
	return a.app.Missing(ctx, a.d.Clients[r].DynamoDB, ids)
}

func (a appSubject) missingObjects(context.Context, string, []string) ([]string, error) {
	return nil, nil
}

func (a appSubject) lookup(ctx context.Context, r string, ids []string) (map[string]workload.Order, error) {
	return a.app.Lookup(ctx, a.d.Clients[r].DynamoDB, ids)
}

// setupApp reads the application's table's key in the primary region,
// checks the item template against it, and makes the writer: a guard per
// region (the deployment's control table and lease) for the epoch-guard
// tier.
func (d *Drill) setupApp(ctx context.Context) error {
	o := d.Options.App
	out, err := d.Clients[d.Primary].DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(o.Table)})
	if err != nil {
		return fmt.Errorf("application %s: table %s in %s: %w", o.Name, o.Table, d.Primary, err)
	}
	if _, err := d.Clients[d.DR].DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(o.Table)}); err != nil {
		return fmt.Errorf("application %s: table %s has no replica in %s (%v): protect apply its plan again", o.Name, o.Table, d.DR, err)
	}
	types := map[string]string{}
	for _, a := range out.Table.AttributeDefinitions {
		types[aws.ToString(a.AttributeName)] = string(a.AttributeType)
	}
	var keys []workload.KeyAttr
	for _, k := range out.Table.KeySchema {
		keys = append(keys, workload.KeyAttr{Name: aws.ToString(k.AttributeName), Type: types[aws.ToString(k.AttributeName)]})
	}
	raw := o.Item
	if raw == "" {
		if raw, err = workload.DefaultTemplate(keys); err != nil {
			return fmt.Errorf("table %s: %w", o.Table, err)
		}
	}
	tmpl, err := workload.ParseTemplate(raw, keys)
	if err != nil {
		return fmt.Errorf("table %s: %w", o.Table, err)
	}
	w := &workload.App{Table: o.Table, Item: tmpl, DB: map[string]*dynamodb.Client{}, Route: d.routed}
	if o.Guarded() {
		w.Guards = map[string]*guard.Guard{}
	}
	for _, r := range []string{d.Primary, d.DR} {
		w.DB[r] = d.Clients[r].DynamoDB
		if !o.Guarded() {
			continue
		}
		g, err := guard.New(guard.Config{Region: r, ControlTable: d.Names.ControlTable(), DynamoDB: d.Clients[r].DynamoDB, Lease: guard.Lease(d.Controller.LeaseConfig())})
		if err != nil {
			return err
		}
		w.Guards[r] = g
	}
	d.app = w
	d.subject = appSubject{d: d, app: w}
	d.Report.App = &report.App{Name: o.Name, Table: o.Table, Tier: o.Tier, Promise: o.Promise}
	return nil
}

// promised reports whether the subject's fencing promises no split brain
// and no loss on failback: the orders service's and a guarded
// application's do; routing only does not.
func (d *Drill) promised() bool { return d.Options.App == nil || d.Options.App.Guarded() }

// Breach records a measured breach of the fencing promise: a failure where
// it is promised, a line printed with the report where it is not.
func (d *Drill) Breach(msg string) {
	if d.promised() {
		d.Fail(msg)
		return
	}
	d.Report.NotPromised = append(d.Report.NotPromised, msg)
}

// router follows the target's routing as a client's resolver would: it
// asks every 100 ms, and the workload reads the last answer.
type router struct {
	mu     sync.Mutex
	region string
	stop   context.CancelFunc
	done   chan struct{}
}

// routed is the region the application's clients are sent to now.
func (d *Drill) routed() string {
	d.route.mu.Lock()
	defer d.route.mu.Unlock()
	return d.route.region
}

// followRouting starts the resolver; stopRouting ends it.
func (d *Drill) followRouting() {
	ctx, cancel := context.WithCancel(context.Background())
	d.route.stop, d.route.done = cancel, make(chan struct{})
	d.route.region = d.Primary
	go func() {
		defer close(d.route.done)
		for {
			if r, _ := d.Target.Routed(ctx); r != "" {
				d.route.mu.Lock()
				d.route.region = r
				d.route.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
}

func (d *Drill) stopRouting() {
	if d.route.stop != nil {
		d.route.stop()
		<-d.route.done
		d.route.stop = nil
	}
}

// appValidator compares the application's table in both regions.
func (d *Drill) appValidator(table string) *validate.Validator {
	return &validate.Validator{Primary: validate.TableSide(d.Clients[d.Primary], table), DR: validate.TableSide(d.Clients[d.DR], table), Settle: 10 * time.Second}
}
