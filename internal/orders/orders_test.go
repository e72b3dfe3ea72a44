package orders_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/orders"
	"github.com/pilotlight/pilotlight/internal/region"
)

func TestMain(m *testing.M) { labtest.Main(m) }

type fixture struct {
	names       region.Names
	p, dr       *region.Clients
	primarySvc  *orders.Service
	drSvc       *orders.Service
	pStore, drS *control.Store
	quorum      func(clock func() time.Time) *control.Quorum
	clock       *clock
}

// lease is long enough that a test's own pace never runs it out; tests
// that need it to run out move the services' clock.
var lease = control.LeaseConfig{Term: 20 * time.Second, Epsilon: 250 * time.Millisecond, Delta: 2 * time.Second}

type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// newFixture provisions the orders service's resources and gives the
// primary its first lease, as its health check would.
func newFixture(t *testing.T) fixture {
	t.Helper()
	names := labtest.Provision(t, "app")
	p, dr := labtest.Clients(t, 0)
	w := labtest.Witness(t, 1)
	ck := &clock{}
	f := fixture{names: names, p: p, dr: dr, clock: ck,
		primarySvc: orders.New(orders.Config{Role: orders.RolePrimary, Names: names, Lease: lease, Now: ck.now}, p),
		drSvc:      orders.New(orders.Config{Role: orders.RoleSecondary, Names: names, Lease: lease, Now: ck.now}, dr),
	}
	stores := labtest.Stores(t, names, 0)
	f.pStore, f.drS = stores[p.Name], stores[dr.Name]
	wStore := stores[w.Name]
	f.quorum = func(now func() time.Time) *control.Quorum {
		return &control.Quorum{Stores: []*control.Store{f.pStore, f.drS, wStore}, Witness: w.Name, Lease: lease, Now: now}
	}
	if _, err := f.quorum(nil).Renew(labtest.Context(t), "us-east-1"); err != nil {
		t.Fatal(err)
	}
	return f
}

func req(method, path, body string) events.LambdaFunctionURLRequest {
	return events.LambdaFunctionURLRequest{RawPath: path, Body: body,
		RequestContext: events.LambdaFunctionURLRequestContext{HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: method, Path: path}}}
}

func TestWriteAndReadInActiveRegion(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	resp, err := f.primarySvc.Handle(ctx, req("POST", "/orders", `{"id":"o-1","customer":"ann","amount":12.5}`))
	if err != nil || resp.StatusCode != http.StatusCreated || resp.Headers[orders.HeaderEpoch] != "1" {
		t.Fatalf("create: %v %+v", err, resp)
	}
	resp, _ = f.primarySvc.Handle(ctx, req("GET", "/orders/o-1", ""))
	var o orders.Order
	if err := json.Unmarshal([]byte(resp.Body), &o); err != nil || o.Customer != "ann" || o.Amount != 12.5 || o.Region != "us-east-1" || o.Epoch != 1 {
		t.Fatalf("read back: %d %s", resp.StatusCode, resp.Body)
	}
	if resp, _ := f.primarySvc.Handle(ctx, req("GET", "/orders/none", "")); resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing order: %d", resp.StatusCode)
	}
}

func TestInactiveRegionRefusesWrites(t *testing.T) {
	f := newFixture(t)
	resp, _ := f.drSvc.Handle(labtest.Context(t), req("POST", "/orders", `{"id":"o-2","customer":"bob","amount":1}`))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Headers[orders.HeaderActiveRegion] != "us-east-1" {
		t.Fatalf("DR accepted or misdirected: %d %v %s", resp.StatusCode, resp.Headers, resp.Body)
	}
}

func TestFencedRegionRefusesWrites(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	// The controller fences the primary by raising its epoch: from then on
	// its writes fail, whatever it read before.
	if err := f.pStore.Raise(ctx, record.Active{Region: "us-west-2", Epoch: 2, Since: time.Now()}); err != nil {
		t.Fatal(err)
	}
	resp, _ := f.primarySvc.Handle(ctx, req("POST", "/orders", `{"id":"o-3","customer":"c","amount":1}`))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Headers[orders.HeaderActiveRegion] != "us-west-2" {
		t.Fatalf("fenced primary: %d %v", resp.StatusCode, resp.Headers)
	}
	if resp, _ := f.primarySvc.Handle(ctx, req("GET", "/health", "")); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(resp.Body, "is not the active region") {
		t.Errorf("fenced primary /health: %d %s", resp.StatusCode, resp.Body)
	}
}

func TestReturningPrimaryCannotWriteAtItsOldEpoch(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	// The primary was cut off; its lease ran out; the DR region claimed
	// epoch 2 on its own record and the witness's. The primary's own record
	// still says epoch 1 (the fence has not landed): only the lease stops it.
	past := func() time.Time { return time.Now().Add(lease.Term + lease.Epsilon + time.Second) }
	l := labtest.Lab(t)
	if err := l.Cut("us-east-1", region.DynamoDB); err != nil {
		t.Fatal(err)
	}
	_, err := f.quorum(past).Claim(ctx, "us-west-2", 2, control.ClaimOptions{})
	if rerr := l.Restore("us-east-1"); err != nil || rerr != nil {
		t.Fatal(err, rerr)
	}
	f.clock.offset.Store(int64(lease.Term + lease.Epsilon + time.Second))
	if a, err := f.pStore.Active(ctx); err != nil || a.Epoch != 1 || a.Region != "us-east-1" {
		t.Fatalf("the primary's own record: %+v %v; this test needs it unfenced", a, err)
	}
	for i := range 5 {
		resp, _ := f.primarySvc.Handle(ctx, req("POST", "/orders", `{"customer":"d","amount":1}`))
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("write %d: the returning primary acknowledged at its old epoch: %d %v %s", i, resp.StatusCode, resp.Headers, resp.Body)
		}
	}
	// It cannot win its lease back: two records are at epoch 2.
	if _, err := f.quorum(f.clock.now).Renew(ctx, "us-east-1"); err == nil {
		t.Fatal("the returning primary renewed against a majority at a higher epoch")
	}
	if resp, _ := f.primarySvc.Handle(ctx, req("GET", "/health", "")); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a primary without a lease reports healthy: %s", resp.Body)
	}
	resp, _ := f.drSvc.Handle(ctx, req("POST", "/orders", `{"id":"o-5","customer":"e","amount":1}`))
	if resp.StatusCode != http.StatusCreated || resp.Headers[orders.HeaderEpoch] != "2" {
		t.Fatalf("promoted DR: %d %s", resp.StatusCode, resp.Body)
	}
}

func TestRefusedWriteLeavesNoAttachment(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	f.clock.offset.Store(int64(lease.Term)) // the lease has run out
	resp, _ := f.primarySvc.Handle(ctx, req("POST", "/orders", `{"id":"o-orphan","customer":"f","amount":1}`))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(resp.Body, "lease") {
		t.Fatalf("write without a lease: %d %s", resp.StatusCode, resp.Body)
	}
	_, err := f.p.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(f.names.Bucket("us-east-1")), Key: aws.String(orders.AttachmentKey("o-orphan"))})
	if err == nil {
		t.Fatal("a refused write left its attachment behind")
	}
	// Fenced between the lease check and the commit: the transaction's
	// condition refuses, and the attachment it had stored is removed.
	f.clock.offset.Store(0)
	if err := f.pStore.Raise(ctx, record.Active{Region: "us-west-2", Epoch: 2, Since: time.Now()}); err != nil {
		t.Fatal(err)
	}
	resp, _ = f.primarySvc.Handle(ctx, req("POST", "/orders", `{"id":"o-orphan2","customer":"f","amount":1}`))
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("fenced write: %d %s", resp.StatusCode, resp.Body)
	}
	if _, err := f.p.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(f.names.Bucket("us-east-1")), Key: aws.String(orders.AttachmentKey("o-orphan2"))}); err == nil {
		t.Fatal("a fenced write left its attachment behind")
	}
}

func TestHealthByRole(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	if resp, _ := f.primarySvc.Handle(ctx, req("GET", "/health", "")); resp.StatusCode != http.StatusOK {
		t.Errorf("active primary: %d %s", resp.StatusCode, resp.Body)
	}
	// The secondary reports its infrastructure, so routing can move to it as
	// soon as the primary fails, before promotion.
	if resp, _ := f.drSvc.Handle(ctx, req("GET", "/health", "")); resp.StatusCode != http.StatusOK {
		t.Errorf("standby secondary: %d %s", resp.StatusCode, resp.Body)
	}
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	tests := []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"not json", "POST", "/orders", "{", 400, "not an order"},
		{"unknown field", "POST", "/orders", `{"customer":"a","amount":1,"price":2}`, 400, "unknown field"},
		{"no customer", "POST", "/orders", `{"amount":1}`, 400, "customer is required"},
		{"negative", "POST", "/orders", `{"customer":"a","amount":-1}`, 400, "amount must be"},
		{"bad id", "POST", "/orders", `{"id":"a/b","customer":"a","amount":1}`, 400, "id must be"},
		{"trailing data", "POST", "/orders", `{"customer":"a","amount":1} {}`, 400, "after the order"},
		{"wrong method", "DELETE", "/orders", "", 405, "not allowed"},
		{"no route", "GET", "/admin", "", 404, "no route"},
	}
	for _, tt := range tests {
		resp, err := f.primarySvc.Handle(ctx, req(tt.method, tt.path, tt.body))
		if err != nil || resp.StatusCode != tt.code || !strings.Contains(resp.Body, tt.want) {
			t.Errorf("%s: %d %s (%v), want %d with %q", tt.name, resp.StatusCode, resp.Body, err, tt.code, tt.want)
		}
	}
}

func FuzzParseOrder(f *testing.F) {
	f.Add(`{"id":"x","customer":"a","amount":1}`)
	f.Add(`{"customer":"a","amount":1e308}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		o, err := orders.ParseOrder(body)
		if err != nil {
			return
		}
		if o.ID == "" || o.Customer == "" || o.Amount < 0 || strings.ContainsAny(o.ID, "/#?% ") {
			t.Fatalf("accepted an invalid order: %+v", o)
		}
	})
}

// The health-only URL (Route 53's, AuthType NONE) answers the same verdict
// as the orders service's /health and refuses everything else: anyone on
// the internet can call it, so it must neither take writes nor give data.
func TestHealthOnlyServesNothingElse(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	h := orders.New(orders.Config{Role: orders.RolePrimary, Names: f.names, Lease: lease, Now: f.clock.now, HealthOnly: true}, f.p)
	if resp, _ := h.Handle(ctx, req("GET", "/health", "")); resp.StatusCode != http.StatusOK {
		t.Fatalf("health-only /health of the active primary: %d %s", resp.StatusCode, resp.Body)
	}
	created, _ := f.primarySvc.Handle(ctx, req("POST", "/orders", `{"id":"ho-1","customer":"c","amount":1}`))
	if created.StatusCode != http.StatusCreated {
		t.Fatalf("the orders service: %d %s", created.StatusCode, created.Body)
	}
	for _, r := range []events.LambdaFunctionURLRequest{
		req("POST", "/orders", `{"id":"ho-2","customer":"c","amount":1}`),
		req("GET", "/orders/ho-1", ""),
		req("POST", "/health", ""),
	} {
		resp, _ := h.Handle(ctx, r)
		if resp.StatusCode != http.StatusNotFound || strings.Contains(resp.Body, "ho-1") {
			t.Errorf("%s %s on the health-only URL: %d %s", r.RequestContext.HTTP.Method, r.RawPath, resp.StatusCode, resp.Body)
		}
	}
	if resp, _ := f.primarySvc.Handle(ctx, req("GET", "/orders/ho-2", "")); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a write through the health-only URL landed: %d %s", resp.StatusCode, resp.Body)
	}
}
