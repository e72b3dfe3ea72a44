package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pilotlight/pilotlight/internal/app"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/region"
)

func TestMain(m *testing.M) { labtest.Main(m) }

type fixture struct {
	names       region.Names
	p, dr       *region.Clients
	primarySvc  *app.Service
	drSvc       *app.Service
	pStore, drS *control.Store
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	names := labtest.Provision(t, "app")
	p, dr := labtest.Clients(t, 0)
	return fixture{names: names, p: p, dr: dr,
		primarySvc: app.New(app.Config{Role: app.RolePrimary, Names: names, PeerCheck: time.Nanosecond}, p, dr),
		drSvc:      app.New(app.Config{Role: app.RoleSecondary, Names: names, PeerCheck: time.Nanosecond}, dr, p),
		pStore:     control.New(p, names), drS: control.New(dr, names)}
}

func req(method, path, body string) events.LambdaFunctionURLRequest {
	return events.LambdaFunctionURLRequest{RawPath: path, Body: body,
		RequestContext: events.LambdaFunctionURLRequestContext{HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: method, Path: path}}}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestWriteAndReadInActiveRegion(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	resp, err := f.primarySvc.Handle(ctx, req("POST", "/orders", `{"id":"o-1","customer":"ann","amount":12.5}`))
	if err != nil || resp.StatusCode != http.StatusCreated || resp.Headers[app.HeaderEpoch] != "1" {
		t.Fatalf("create: %v %+v", err, resp)
	}
	resp, _ = f.primarySvc.Handle(ctx, req("GET", "/orders/o-1", ""))
	var o app.Order
	if err := json.Unmarshal([]byte(resp.Body), &o); err != nil || o.Customer != "ann" || o.Amount != 12.5 || o.Region != "us-east-1" || o.Epoch != 1 {
		t.Fatalf("read back: %d %s", resp.StatusCode, resp.Body)
	}
	if resp, _ := f.primarySvc.Handle(ctx, req("GET", "/orders/none", "")); resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing order: %d", resp.StatusCode)
	}
}

func TestInactiveRegionRefusesWrites(t *testing.T) {
	f := newFixture(t)
	resp, _ := f.drSvc.Handle(ctxT(t), req("POST", "/orders", `{"id":"o-2","customer":"bob","amount":1}`))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Headers[app.HeaderActiveRegion] != "us-east-1" {
		t.Fatalf("DR accepted or misdirected: %d %v %s", resp.StatusCode, resp.Headers, resp.Body)
	}
}

func TestFencedRegionRefusesWrites(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	// The controller fences the primary by raising its epoch: from then on
	// its writes fail, whatever it read before.
	if err := f.pStore.Raise(ctx, control.Active{Region: "us-west-2", Epoch: 2, Since: time.Now()}); err != nil {
		t.Fatal(err)
	}
	resp, _ := f.primarySvc.Handle(ctx, req("POST", "/orders", `{"id":"o-3","customer":"c","amount":1}`))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Headers[app.HeaderActiveRegion] != "us-west-2" {
		t.Fatalf("fenced primary: %d %v", resp.StatusCode, resp.Headers)
	}
	if resp, _ := f.primarySvc.Handle(ctx, req("GET", "/health", "")); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(resp.Body, "not the active region") {
		t.Errorf("fenced primary /health: %d %s", resp.StatusCode, resp.Body)
	}
}

func TestPeerAtHigherEpochStopsWrites(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	// The DR region was promoted, but the fence has not reached the primary:
	// the primary sees the peer's higher epoch and steps down by itself.
	if err := f.drS.CompareAndSet(ctx, 1, control.Active{Region: "us-west-2", Epoch: 2, Since: time.Now()}); err != nil {
		t.Fatal(err)
	}
	resp, _ := f.primarySvc.Handle(ctx, req("POST", "/orders", `{"id":"o-4","customer":"d","amount":1}`))
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("primary wrote below the peer's epoch: %d %s", resp.StatusCode, resp.Body)
	}
	resp, _ = f.drSvc.Handle(ctx, req("POST", "/orders", `{"id":"o-5","customer":"e","amount":1}`))
	if resp.StatusCode != http.StatusCreated || resp.Headers[app.HeaderEpoch] != "2" {
		t.Fatalf("promoted DR: %d %s", resp.StatusCode, resp.Body)
	}
}

func TestHealthByRole(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
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
	ctx := ctxT(t)
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
		o, err := app.ParseOrder(body)
		if err != nil {
			return
		}
		if o.ID == "" || o.Customer == "" || o.Amount < 0 || strings.ContainsAny(o.ID, "/#?% ") {
			t.Fatalf("accepted an invalid order: %+v", o)
		}
	})
}
