package guard_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotlight/pilotlight/guard"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/region"
)

func TestMain(m *testing.M) { labtest.Main(m) }

var lease = guard.Lease{Term: 20 * time.Second, Epsilon: 250 * time.Millisecond, Delta: 5 * time.Second}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// carts is an application's own table, not pilotlight's: a string
// partition key and a number sort key.
func carts(t *testing.T, ctx context.Context, c *region.Clients, name string) {
	t.Helper()
	_, err := c.DynamoDB.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("user"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("line"), AttributeType: types.ScalarAttributeTypeN}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("user"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("line"), KeyType: types.KeyTypeRange}}})
	if err != nil {
		t.Fatal(err)
	}
}

func line(user string, n int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"user": &types.AttributeValueMemberS{Value: user}, "line": &types.AttributeValueMemberN{Value: strconv.Itoa(n)}}
}

func present(t *testing.T, ctx context.Context, c *region.Clients, table string, key map[string]types.AttributeValue) bool {
	t.Helper()
	out, err := c.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item != nil
}

// The guard lets a write through only in the region that holds the lease,
// and refuses one whose region was fenced between its check and its write
// (the transaction's condition) or whose deadline passed: each schedule
// that would let two regions acknowledge writes.
func TestGuardFencesAnApplicationsOwnWrites(t *testing.T) {
	ctx := ctxT(t)
	names := labtest.Provision(t, "grd")
	p, dr := labtest.Clients(t, 0)
	w := labtest.Witness(t, 1)
	table := names.App + "-carts"
	carts(t, ctx, p, table)
	carts(t, ctx, dr, table)
	all := labtest.Stores(t, names, 0)
	stores := []*control.Store{all[p.Name], all[dr.Name], all[w.Name]}
	q := &control.Quorum{Stores: stores, Witness: w.Name, Lease: control.LeaseConfig(lease)}
	if _, err := q.Renew(ctx, p.Name); err != nil {
		t.Fatal(err)
	}
	newGuard := func(c *region.Clients) *guard.Guard {
		g, err := guard.New(guard.Config{Region: c.Name, ControlTable: names.ControlTable(), DynamoDB: c.DynamoDB, Lease: lease})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	gp, gdr := newGuard(p), newGuard(dr)

	if err := gp.Put(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: line("ann", 1)}); err != nil {
		t.Fatalf("the lease holder's write: %v", err)
	}
	if !present(t, ctx, p, table, line("ann", 1)) {
		t.Fatal("the lease holder's acknowledged write is not in its table")
	}
	err := gdr.Put(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: line("ann", 2)})
	var f *guard.Fenced
	if !errors.As(err, &f) || f.Active != p.Name || f.Unreachable {
		t.Fatalf("a write in the region without the lease: %v, want *Fenced naming %s", err, p.Name)
	}
	if present(t, ctx, dr, table, line("ann", 2)) {
		t.Fatal("a refused write was applied")
	}

	// A permit past its deadline writes nothing (δ bounds a write), though
	// the region still holds the lease.
	p0, err := gp.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p0.Deadline = time.Now().Add(-time.Millisecond)
	if err := gp.Write(ctx, p0, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(table), Item: line("bob", 1)}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a write past its permit's deadline: %v, want the deadline exceeded", err)
	}
	if present(t, ctx, p, table, line("bob", 1)) {
		t.Fatal("a write past its permit's deadline is in the table")
	}

	// Fenced between the check and the write: the DR region claims the
	// next epoch (forced; the primary's permit was taken before).
	permit, err := gp.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// (A quorum with a short lease, so the forced claim's wait is short;
	// the permit's δ is the guard's.)
	fast := &control.Quorum{Stores: stores, Witness: w.Name, Lease: control.LeaseConfig{Term: time.Second, Epsilon: 50 * time.Millisecond, Delta: 100 * time.Millisecond}}
	if _, err := fast.Claim(ctx, dr.Name, permit.Epoch+1, control.ClaimOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	err = gp.Write(ctx, permit, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(table), Item: line("ann", 3)}})
	if !errors.As(err, &f) || f.Active != dr.Name {
		t.Fatalf("a write checked before the region was fenced: %v, want *Fenced naming %s", err, dr.Name)
	}
	if present(t, ctx, p, table, line("ann", 3)) {
		t.Fatal("a write of a fenced region was applied")
	}

}

func TestNewNamesWhatIsMissing(t *testing.T) {
	_, err := guard.New(guard.Config{})
	if err == nil {
		t.Fatal("an empty config was accepted")
	}
	for _, want := range []string{"Region", "ControlTable", "DynamoDB", "PILOTLIGHT_CONTROL_TABLE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestConfigFromEnvReadsWhatApplySets(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := guard.ConfigFromEnv(env(map[string]string{"AWS_REGION": "us-west-2", guard.EnvControlTable: "shop-control",
		guard.EnvLeaseTerm: "2s", guard.EnvClockEpsilon: "250ms", guard.EnvWriteDeadline: "750ms"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "us-west-2" || cfg.ControlTable != "shop-control" || cfg.Lease != (guard.Lease{Term: 2 * time.Second, Epsilon: 250 * time.Millisecond, Delta: 750 * time.Millisecond}) {
		t.Fatalf("config %+v", cfg)
	}
	if cfg, err := guard.ConfigFromEnv(env(map[string]string{"AWS_REGION": "us-west-2"}), nil); err != nil || cfg.Lease != (guard.Lease{}) {
		t.Fatalf("no lease variables: %+v %v, want the zero lease (the AWS default)", cfg, err)
	}
	for name, m := range map[string]map[string]string{
		"not a duration": {guard.EnvLeaseTerm: "20", guard.EnvClockEpsilon: "1s", guard.EnvWriteDeadline: "1s"},
		"one of three":   {guard.EnvLeaseTerm: "20s"},
	} {
		if _, err := guard.ConfigFromEnv(env(m), nil); err == nil || !strings.Contains(err.Error(), guard.EnvLeaseTerm) {
			t.Errorf("%s: %v, want an error naming %s", name, err, guard.EnvLeaseTerm)
		}
	}
}

// The lease variables are outside input: any values give a config or an
// error naming a variable, never a panic, and an accepted lease is the
// one written.
func FuzzConfigFromEnv(f *testing.F) {
	f.Add("2s", "250ms", "750ms")
	f.Add("20", "1s", "")
	f.Add("-1s", "x", "1h")
	f.Fuzz(func(t *testing.T, term, eps, delta string) {
		m := map[string]string{guard.EnvLeaseTerm: term, guard.EnvClockEpsilon: eps, guard.EnvWriteDeadline: delta}
		cfg, err := guard.ConfigFromEnv(func(k string) string { return m[k] }, nil)
		if err != nil {
			if !strings.Contains(err.Error(), "PILOTLIGHT_") {
				t.Fatalf("error %q names no variable", err)
			}
			return
		}
		for v, d := range map[string]time.Duration{term: cfg.Lease.Term, eps: cfg.Lease.Epsilon, delta: cfg.Lease.Delta} {
			if v == "" {
				continue
			}
			if want, _ := time.ParseDuration(v); want != d {
				t.Fatalf("%q read as %s", v, d)
			}
		}
	})
}
