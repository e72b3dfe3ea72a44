package validate_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/metrics"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/validate"
	"github.com/pilotlight/pilotlight/internal/validate/digest"
	"github.com/pilotlight/pilotlight/internal/validate/verdict"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// env is a table and bucket pair of the test's own in both lab regions.
type env struct {
	t       *testing.T
	ctx     context.Context
	names   region.Names
	primary *region.Clients
	dr      *region.Clients
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the lab")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	names := labtest.Provision(t, "val")
	p, d := labtest.Clients(t, 0)
	return &env{t: t, ctx: ctx, names: names, primary: p, dr: d}
}

func (e *env) put(c *region.Clients, items ...digest.Item) {
	e.t.Helper()
	labtest.PutItems(e.t, e.ctx, c, e.names.Table(), items...)
}

func (e *env) both(items ...digest.Item) {
	e.put(e.primary, items...)
	e.put(e.dr, items...)
}

func (e *env) validator(objects bool) *validate.Validator {
	return &validate.Validator{
		Primary:  validate.SideFor(e.primary, e.names, objects),
		DR:       validate.SideFor(e.dr, e.names, objects),
		Segments: 4, Buckets: 64, Settle: -1,
	}
}

func S(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func N(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

func order(i int) digest.Item {
	return digest.Item{
		"pk":     S(fmt.Sprintf("order#%05d", i)),
		"amount": N(fmt.Sprintf("%d.50", i)),
		"tags":   &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
		"lines":  &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberM{Value: digest.Item{"sku": S("x"), "qty": N("1")}}}},
	}
}

func orders(n int) []digest.Item {
	out := make([]digest.Item, n)
	for i := range out {
		out[i] = order(i)
	}
	return out
}

func TestEqualDataIsClean(t *testing.T) {
	e := newEnv(t)
	items := orders(300)
	e.put(e.primary, items...)
	// The DR copy spells numbers and orders sets differently and carries
	// replication stamps; it is the same data.
	for _, it := range items {
		it["amount"] = N(strings.Replace(it["amount"].(*types.AttributeValueMemberN).Value, ".50", ".5e0", 1))
		it["tags"] = &types.AttributeValueMemberSS{Value: []string{"b", "a"}}
		it["pilotlight:rep:version"] = S("1@us-east-1")
	}
	e.put(e.dr, items...)
	// Canaries are not data.
	e.put(e.primary, digest.Item{"pk": S(region.CanaryPrefix + "#replication#us-east-1"), "at": N("1")})
	r, err := e.validator(false).Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Clean() || r.DifferingBuckets != 0 {
		var b bytes.Buffer
		r.Print(&b)
		t.Fatalf("equal data flagged:\n%s", b.String())
	}
	if r.Items["us-east-1"] != 300 || r.Items["us-west-2"] != 300 {
		t.Fatalf("items = %v, want 300 each (canary left out)", r.Items)
	}
	if r.Digest["us-east-1"] != r.Digest["us-west-2"] {
		t.Fatalf("digests differ: %v", r.Digest)
	}
}

func TestEveryDivergenceIsFound(t *testing.T) {
	e := newEnv(t)
	e.both(orders(500)...)
	// missing in DR
	e.put(e.primary, order(1000), order(1001))
	// missing in primary (an extra item in DR)
	e.put(e.dr, order(2000))
	// changed attribute
	ch := order(10)
	ch["amount"] = N("999")
	e.put(e.dr, ch)
	// changed nested value
	nested := order(20)
	nested["lines"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberM{Value: digest.Item{"sku": S("x"), "qty": N("2")}}}}
	e.put(e.dr, nested)
	// type change
	typ := order(30)
	typ["amount"] = S("30.50")
	e.put(e.dr, typ)

	v := e.validator(false)
	r, err := v.Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, f verdict.Finding, want ...string) {
		t.Helper()
		if f.Count != int64(len(want)) || strings.Join(f.Samples, ",") != strings.Join(want, ",") {
			t.Errorf("%s = %d %v, want %v", what, f.Count, f.Samples, want)
		}
	}
	check("missing in DR", r.MissingInDR, "order#01000", "order#01001")
	check("missing in primary", r.MissingInPrimary, "order#02000")
	check("divergent", r.Divergent, "order#00010", "order#00020", "order#00030")
	if r.Clean() {
		t.Fatal("report says clean")
	}
	if r.DifferingBuckets == 0 || r.DifferingBuckets > 6 {
		t.Fatalf("differing buckets = %d, want 1..6", r.DifferingBuckets)
	}

	// The same result through fanned-out partials of disjoint segment
	// ranges, merged, with a diff budget of one bucket per pass.
	v2 := e.validator(false)
	v2.Segments = 6
	v2.MaxDiffItems = 1
	a, err := v2.Digest(e.ctx, validate.Segments{Total: 6, First: 0, Last: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := v2.Digest(e.ctx, validate.Segments{Total: 6, First: 2, Last: 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	r2, err := v2.Compare(e.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Digest["us-east-1"] != r.Digest["us-east-1"] || r2.Digest["us-west-2"] != r.Digest["us-west-2"] {
		t.Fatalf("merged digests %v differ from one pass %v", r2.Digest, r.Digest)
	}
	check("merged missing in DR", r2.MissingInDR, "order#01000", "order#01001")
	check("merged divergent", r2.Divergent, "order#00010", "order#00020", "order#00030")

	// A partial of part of the segments cannot be compared.
	if _, err := v2.Compare(e.ctx, b); err == nil || !strings.Contains(err.Error(), "merge the partials") {
		t.Fatalf("compare of a partial range: err = %v", err)
	}

	var emf bytes.Buffer
	if err := validate.Emit(&emf, r); err != nil {
		t.Fatal(err)
	}
	pts, err := metrics.Parse(bytes.TrimSpace(emf.Bytes()), metrics.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, p := range pts {
		got[p.Name] = p.Value
	}
	if got[metrics.ValidatorMissingInDR] != 2 || got[metrics.ValidatorDivergent] != 3 || got[metrics.ValidatorMissingInPrimary] != 1 {
		t.Fatalf("metrics = %v", got)
	}
}

// TestSettleWindow: a difference that replication closes within the window
// is not divergence; one it does not close is.
func TestSettleWindow(t *testing.T) {
	e := newEnv(t)
	e.both(orders(50)...)
	e.put(e.primary, order(100), order(101))
	v := e.validator(false)
	v.Settle = 3 * time.Second
	var waited time.Duration
	v.Sleep = func(ctx context.Context, d time.Duration) error {
		waited = d
		// Replication "arrives" for one of the two while the window runs.
		e.put(e.dr, order(100))
		return nil
	}
	r, err := v.Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if waited <= 0 || waited > 3*time.Second {
		t.Fatalf("waited %s, want the rest of a 3s window", waited)
	}
	if r.Settled != 1 || r.MissingInDR.Count != 1 || r.MissingInDR.Samples[0] != "order#00101" {
		t.Fatalf("settled %d, missing in DR %+v; want 1 settled and order#00101 missing", r.Settled, r.MissingInDR)
	}
}

func TestObjectsCompared(t *testing.T) {
	e := newEnv(t)
	pb, db := e.names.Bucket("us-east-1"), e.names.Bucket("us-west-2")
	put := func(c *region.Clients, bucket, key, body string) {
		t.Helper()
		if _, err := c.S3.PutObject(e.ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		k := fmt.Sprintf("orders/%d.json", i)
		put(e.primary, pb, k, "v1")
		put(e.primary, pb, k, "v2")
		put(e.dr, db, k, "v1")
		put(e.dr, db, k, "v2")
	}
	put(e.primary, pb, "only-primary.json", "x")
	put(e.dr, db, "only-dr.json", "x")
	put(e.primary, pb, "changed.json", "a")
	put(e.dr, db, "changed.json", "b")
	put(e.primary, pb, "history.json", "1")
	put(e.primary, pb, "history.json", "2")
	put(e.dr, db, "history.json", "2") // same current, a version short
	put(e.primary, pb, region.CanaryPrefix+"/probe", "x")
	if _, err := e.primary.S3.DeleteObject(e.ctx, &s3.DeleteObjectInput{Bucket: aws.String(pb), Key: aws.String("orders/4.json")}); err != nil {
		t.Fatal(err)
	}
	v := e.validator(true)
	r, err := v.Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	o := r.Objects
	if o == nil {
		t.Fatal("no object report")
	}
	if o.MissingInDR.Count != 1 || o.MissingInDR.Samples[0] != "only-primary.json" {
		t.Errorf("missing in DR = %+v", o.MissingInDR)
	}
	// orders/4.json is deleted in the primary and live in DR.
	if o.MissingInPrimary.Count != 2 || strings.Join(o.MissingInPrimary.Samples, ",") != "only-dr.json,orders/4.json" {
		t.Errorf("missing in primary = %+v", o.MissingInPrimary)
	}
	if o.Divergent.Count != 2 || strings.Join(o.Divergent.Samples, ",") != "changed.json,history.json" {
		t.Errorf("divergent = %+v", o.Divergent)
	}
	// Within a settle window, the same differences are only "settling".
	v.Settle = time.Hour
	r, err = v.Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Objects.Clean() || r.Objects.Settling != 5 {
		t.Fatalf("within the window: %+v", r.Objects)
	}
}

func TestErrorsNameTheProblem(t *testing.T) {
	e := newEnv(t)
	v := e.validator(false)
	v.DR.Table = "no-such-table"
	_, err := v.Run(e.ctx)
	if err == nil || !strings.Contains(err.Error(), "us-west-2") || !strings.Contains(err.Error(), "no-such-table does not exist") {
		t.Fatalf("err = %v", err)
	}
	if _, err := validate.ParseSegmentRange("3-1", 4); err == nil || !strings.Contains(err.Error(), "first ≤ last") {
		t.Fatalf("bad range: %v", err)
	}
	if s, err := validate.ParseSegmentRange("2-3", 4); err != nil || s.First != 2 || s.Last != 3 {
		t.Fatalf("range: %v %v", s, err)
	}
}

// An application's table with a composite key — string partition, number
// sort key — and one with a binary key: every difference is found in one
// pass, with no second scan of either table (scans counted at the SDK),
// and the same differences with the second scan when the items do not fit
// the diff budget.
func TestCompositeKeysInOnePass(t *testing.T) {
	e := newEnv(t)
	table := e.names.App + "-lines"
	scans := atomic.Int64{}
	count := func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("count-scans", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if _, ok := in.Parameters.(*dynamodb.ScanInput); ok {
					scans.Add(1)
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
		})
	}
	var dbs []*dynamodb.Client
	for _, c := range []*region.Clients{e.primary, e.dr} {
		if _, err := c.DynamoDB.CreateTable(e.ctx, &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("user"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("line"), AttributeType: types.ScalarAttributeTypeN}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("user"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("line"), KeyType: types.KeyTypeRange}}}); err != nil {
			t.Fatal(err)
		}
		dbs = append(dbs, dynamodb.New(c.DynamoDB.Options(), count))
	}
	line := func(user string, n int, qty string) digest.Item {
		return digest.Item{"user": S(user), "line": N(fmt.Sprint(n)), "qty": N(qty), "sku": S("sku-" + user)}
	}
	var items []digest.Item
	for u := range 40 {
		for n := range 5 {
			items = append(items, line(fmt.Sprintf("u%02d", u), n, "1"))
		}
	}
	labtest.PutItems(t, e.ctx, e.primary, table, items...)
	labtest.PutItems(t, e.ctx, e.dr, table, items...)
	// Same partition, another sort key: missing in DR; a line of u01 only
	// in DR; a line whose quantity differs. The number 2 is spelled 2.0 in
	// DR: the same key.
	labtest.PutItems(t, e.ctx, e.primary, table, line("u00", 9, "1"))
	labtest.PutItems(t, e.ctx, e.dr, table, line("u01", 9, "1"))
	labtest.PutItems(t, e.ctx, e.dr, table, digest.Item{"user": S("u02"), "line": N("2.0"), "qty": N("7"), "sku": S("sku-u02")})

	v := &validate.Validator{Primary: validate.Side{Region: e.primary.Name, DB: dbs[0], Table: table}, DR: validate.Side{Region: e.dr.Name, DB: dbs[1], Table: table},
		Segments: 4, Buckets: 64, Settle: -1}
	check := func(r *verdict.Report) {
		t.Helper()
		want := map[string]verdict.Finding{
			"missing in DR":      {Count: 1, Samples: []string{"user=u00,line=9"}},
			"missing in primary": {Count: 1, Samples: []string{"user=u01,line=9"}},
			"divergent":          {Count: 1, Samples: []string{"user=u02,line=2"}},
		}
		got := map[string]verdict.Finding{"missing in DR": r.MissingInDR, "missing in primary": r.MissingInPrimary, "divergent": r.Divergent}
		for k, w := range want {
			if g := got[k]; g.Count != w.Count || strings.Join(g.Samples, ";") != strings.Join(w.Samples, ";") {
				t.Errorf("%s: %d %v, want %d %v", k, g.Count, g.Samples, w.Count, w.Samples)
			}
		}
	}
	scans.Store(0)
	r, err := v.Run(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	check(r)
	onePass := scans.Load()
	if onePass != 8 {
		t.Errorf("one pass made %d Scan calls, want 8 (4 segments × 2 tables, one page each)", onePass)
	}
	v.MaxDiffItems = 10 // the items do not fit: the diff scans again
	scans.Store(0)
	if r, err = v.Run(e.ctx); err != nil {
		t.Fatal(err)
	}
	check(r)
	if twoPass := scans.Load(); twoPass <= onePass {
		t.Errorf("over the diff budget: %d Scan calls, want a second scan (> %d)", twoPass, onePass)
	}
}
