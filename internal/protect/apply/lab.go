package apply

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/protect"
	"github.com/pilotlight/pilotlight/internal/protect/inventory"
)

// LabTarget is what applying a plan in the lab works with: both regions'
// DynamoDB and S3, and the lab's replicators (the stand-ins for global
// tables and S3 replication).
type LabTarget struct {
	Primary, DR     string
	PrimaryDB, DRDB *dynamodb.Client
	PrimaryS3, DRS3 *s3.Client
	// Replicate has the lab serve a table, or a bucket and its replica;
	// StopReplicating undoes it.
	Replicate, StopReplicating func(ctx context.Context, r Replicated) error
	Say                        func(format string, args ...any) // progress (nil: quiet)
	BackfillConcurrency        int                              // 0: 8
	// BackfillTimeout bounds the wait for a bucket's objects to reach its
	// replica (0: 5 minutes).
	BackfillTimeout time.Duration
	// PrimaryLambda and DRLambda are the regions' Lambda control planes
	// (nil: none, and a plan with functions is refused).
	PrimaryLambda, DRLambda *lambda.Client
	// Lease is the deployment's lease, given to guarded functions.
	Lease control.LeaseConfig
}

// Replicated is one of the user's resources the lab replicates: a table
// (both ways), or a bucket and its replica in the DR region.
type Replicated struct {
	Table   string `json:"table,omitempty"`
	Bucket  string `json:"bucket,omitempty"`
	Replica string `json:"replica,omitempty"`
}

// Lab applies an approved plan in the lab. A table: its stream on,
// its replica in the DR region (same keys and indexes), the lab's
// replicator serving it both ways, and the items already there copied. A
// bucket: versioning on, its replica bucket (versioned) in the DR region,
// the lab's object replicator serving it, and apply waits until the
// objects already there are in the replica. Every step is idempotent, so a
// second run resumes an interrupted one. A function: its DR copy
// (applyFunction), made through the lab's Lambda control plane.
func Lab(ctx context.Context, p protect.Plan, approved string, t LabTarget) error {
	say, err := accept(p, approved, t.Primary, t.DR, t.Say, "lab")
	if err != nil {
		return err
	}
	if n := len(p.Inventory.Functions); n > 0 && (t.PrimaryLambda == nil || t.DRLambda == nil) {
		return fmt.Errorf("this lab has no Lambda control plane to copy %d function(s) into (an older pilotlight started it): restart it (pilotlight lab down, then lab up), or plan without them (--name, --prefix or --tag)", n)
	}
	if err := refuseKillSwitch(p); err != nil {
		return err
	}
	for _, tb := range p.Inventory.Tables {
		if err := applyTable(ctx, tb, t, say); err != nil {
			return fmt.Errorf("table %s: %w (applying again resumes)", tb.Name, err)
		}
	}
	for _, b := range p.Inventory.Buckets {
		if err := applyBucket(ctx, b, p.DR, t, say); err != nil {
			return fmt.Errorf("bucket %s: %w (applying again resumes)", b.Name, err)
		}
	}
	for _, f := range p.Inventory.Functions {
		if err := applyFunction(ctx, f, p, t.lambdas(), say); err != nil {
			return fmt.Errorf("function %s: %w (applying again resumes)", f.Name, err)
		}
	}
	return nil
}

func (t LabTarget) lambdas() lambdas {
	return lambdas{Primary: t.Primary, DR: t.DR, PrimaryLambda: t.PrimaryLambda, DRLambda: t.DRLambda, Lease: t.Lease}
}

// accept checks that p is the approved plan and made for this target's
// regions, and returns where progress goes.
func accept(p protect.Plan, approved, primary, dr string, say func(string, ...any), target string) (func(string, ...any), error) {
	if err := p.Verify(approved); err != nil {
		return nil, err
	}
	if p.Primary != primary || p.DR != dr {
		return nil, fmt.Errorf("the plan is for %s → %s, this %s is %s → %s: make the plan on this target", p.Primary, p.DR, target, primary, dr)
	}
	if say == nil {
		return func(string, ...any) {}, nil
	}
	return say, nil
}

// refuseKillSwitch refuses a kill-switch plan with functions: its switch
// at a failover is not built, so their DR copies would never be turned on.
func refuseKillSwitch(p protect.Plan) error {
	if p.Tier == protect.KillSwitch && len(p.Inventory.Functions) > 0 {
		return errors.New("the kill-switch tier's switch (reserved concurrency 0 on the fenced side at a failover) is not built yet, so apply would make DR copies nothing turns on: plan with --tier routing-only, or write through the guard package and plan with --guarded")
	}
	return nil
}

// ensureStream turns the table's stream on (NEW_AND_OLD_IMAGES), or checks
// the one it has is of that view; it reports whether it turned it on.
func ensureStream(ctx context.Context, db *dynamodb.Client, t *ddbtypes.TableDescription, regionName string, say func(string, ...any)) (bool, error) {
	name := aws.ToString(t.TableName)
	s := t.StreamSpecification
	if s != nil && aws.ToBool(s.StreamEnabled) {
		if s.StreamViewType != ddbtypes.StreamViewTypeNewAndOldImages {
			return false, fmt.Errorf("its stream's view type is %s now: scan again", s.StreamViewType)
		}
		return false, nil
	}
	say("%s: enabling its stream (NEW_AND_OLD_IMAGES) in %s", name, regionName)
	if _, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(name),
		StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages}}); err != nil {
		return false, fmt.Errorf("enable its stream: %w", err)
	}
	return true, nil
}

func applyTable(ctx context.Context, tb inventory.Table, t LabTarget, say func(string, ...any)) error {
	cur, err := t.PrimaryDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tb.Name)})
	if err != nil {
		return err
	}
	if _, err := ensureStream(ctx, t.PrimaryDB, cur.Table, t.Primary, say); err != nil {
		return err
	}
	if err := replica(ctx, tb, cur.Table, t, say); err != nil {
		return err
	}
	say("%s: replicating %s ↔ %s", tb.Name, t.Primary, t.DR)
	if err := t.Replicate(ctx, Replicated{Table: tb.Name}); err != nil {
		return err
	}
	n, err := backfill(ctx, tb, t)
	if err != nil {
		return fmt.Errorf("copy the items already there: %w", err)
	}
	say("%s: %d items already there copied to %s (none overwritten)", tb.Name, n, t.DR)
	return nil
}

// replica creates the table in the DR region as the primary's is (keys,
// indexes, on demand, a stream), or checks the one there has its keys.
func replica(ctx context.Context, tb inventory.Table, src *ddbtypes.TableDescription, t LabTarget, say func(string, ...any)) error {
	out, err := t.DRDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tb.Name)})
	var nf *ddbtypes.ResourceNotFoundException
	switch {
	case err == nil:
		if fmt.Sprint(keyNames(out.Table.KeySchema)) != fmt.Sprint(keyNames(src.KeySchema)) {
			return fmt.Errorf("a table %s in %s has another key schema (%v, not %v): it is not this table's replica", tb.Name, t.DR, keyNames(out.Table.KeySchema), keyNames(src.KeySchema))
		}
		return nil
	case !errors.As(err, &nf):
		return err
	}
	say("%s: creating its replica in %s", tb.Name, t.DR)
	in := &dynamodb.CreateTableInput{TableName: aws.String(tb.Name), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: src.AttributeDefinitions, KeySchema: src.KeySchema,
		StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages}}
	for _, g := range src.GlobalSecondaryIndexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection})
	}
	for _, l := range src.LocalSecondaryIndexes {
		in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes, ddbtypes.LocalSecondaryIndex{IndexName: l.IndexName, KeySchema: l.KeySchema, Projection: l.Projection})
	}
	if _, err := t.DRDB.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("create its replica in %s: %w", t.DR, err)
	}
	return dynamodb.NewTableExistsWaiter(t.DRDB).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tb.Name)}, 2*time.Minute)
}

func keyNames(ks []ddbtypes.KeySchemaElement) []string {
	var out []string
	for _, k := range ks {
		out = append(out, aws.ToString(k.AttributeName)+"/"+string(k.KeyType))
	}
	return out
}

// backfill copies every item of the primary's table that the replica lacks
// (a condition on the hash key: a newer replicated version is never
// overwritten), as DynamoDB does when a replica is added.
func backfill(ctx context.Context, tb inventory.Table, t LabTarget) (int, error) {
	hash := ""
	for _, k := range tb.Keys {
		if k.Role == "HASH" {
			hash = k.Name
		}
	}
	p := dynamodb.NewScanPaginator(t.PrimaryDB, &dynamodb.ScanInput{TableName: aws.String(tb.Name), ConsistentRead: aws.Bool(true)})
	workers := t.BackfillConcurrency
	if workers <= 0 {
		workers = 8
	}
	var (
		copied atomic.Int64
		wg     sync.WaitGroup
		mu     sync.Mutex
		first  error
	)
	sem := make(chan struct{}, workers)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			wg.Wait()
			return int(copied.Load()), err
		}
		for _, it := range page.Items {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				_, err := t.DRDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tb.Name), Item: it,
					ConditionExpression: aws.String("attribute_not_exists(#h)"), ExpressionAttributeNames: map[string]string{"#h": hash}})
				var ccf *ddbtypes.ConditionalCheckFailedException
				switch {
				case err == nil:
					copied.Add(1)
				case errors.As(err, &ccf): // the replica has it (replicated, or copied by an earlier run)
				default:
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	return int(copied.Load()), first
}

// RemoveLab undoes Lab for the plan's tables and buckets: the lab
// stops replicating them, and with deleteReplicas their replicas in the DR
// region (the copies apply made) are deleted. The tables and buckets in
// the primary region — the user's, and their data — are never touched;
// their streams and versioning stay on. Idempotent. Without deleteReplicas
// the DR copies are kept (and said so).
func RemoveLab(ctx context.Context, p protect.Plan, approved string, t LabTarget, deleteReplicas bool) error {
	say, err := accept(p, approved, t.Primary, t.DR, t.Say, "lab")
	if err != nil {
		return err
	}
	if len(p.Inventory.Functions) > 0 && (t.PrimaryLambda == nil || t.DRLambda == nil) {
		return errors.New("this lab has no Lambda control plane (an older pilotlight started it), so the plan's DR copies cannot be removed from it: restart it (pilotlight lab down, then lab up)")
	}
	for _, f := range p.Inventory.Functions {
		if err := removeFunction(ctx, f, p, t.lambdas(), say); err != nil {
			return fmt.Errorf("function %s: %w", f.Name, err)
		}
	}
	for _, b := range p.Inventory.Buckets {
		if err := removeBucket(ctx, b, p.DR, t, say, deleteReplicas); err != nil {
			return fmt.Errorf("bucket %s: %w", b.Name, err)
		}
	}
	for _, tb := range p.Inventory.Tables {
		if err := t.StopReplicating(ctx, Replicated{Table: tb.Name}); err != nil {
			return fmt.Errorf("table %s: %w", tb.Name, err)
		}
		say("%s: no longer replicated", tb.Name)
		if !deleteReplicas {
			say("%s: its copy in %s is kept (--delete-replicas deletes it)", tb.Name, t.DR)
			continue
		}
		_, err := t.DRDB.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(tb.Name)})
		var nf *ddbtypes.ResourceNotFoundException
		switch {
		case errors.As(err, &nf):
		case err != nil:
			return fmt.Errorf("table %s: delete its replica in %s: %w", tb.Name, t.DR, err)
		default:
			say("%s: its replica in %s deleted", tb.Name, t.DR)
		}
	}
	return nil
}
