package labtest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/region"
)

var seq atomic.Int64

// Provision gives a test tables, buckets and active records of its own in
// both regions of the shared lab, named prefix plus a number unique in the
// process. They are not replicated: only the lab's own names are.
func Provision(t testing.TB, prefix string) region.Names {
	t.Helper()
	l := Lab(t)
	names := region.Names{App: fmt.Sprintf("%s%d", prefix, seq.Add(1))}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.Provision(ctx, names); err != nil {
		t.Fatal(err)
	}
	return names
}

// Clients returns SDK clients for the shared lab's primary (us-east-1) and
// DR region (us-west-2); attempts 1 for probes, 0 for the SDK's retries.
func Clients(t testing.TB, attempts int) (primary, dr *region.Clients) {
	t.Helper()
	l := Lab(t)
	p, err := l.Clients("us-east-1", attempts)
	if err != nil {
		t.Fatal(err)
	}
	d, err := l.Clients("us-west-2", attempts)
	if err != nil {
		t.Fatal(err)
	}
	return p, d
}

// PutItems writes items to a table in batches of 25, retrying what
// DynamoDB leaves unprocessed.
func PutItems[M ~map[string]types.AttributeValue](t testing.TB, ctx context.Context, c *region.Clients, table string, items ...M) {
	t.Helper()
	for start := 0; start < len(items); start += 25 {
		var reqs []types.WriteRequest
		for _, it := range items[start:min(start+25, len(items))] {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
		}
		in := map[string][]types.WriteRequest{table: reqs}
		for len(in) > 0 {
			out, err := c.DynamoDB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: in})
			if err != nil {
				t.Fatal(err)
			}
			in = out.UnprocessedItems
		}
	}
}

// Witness returns SDK clients for the shared lab's witness region
// (us-east-2), through its proxy.
func Witness(t testing.TB, attempts int) *region.Clients {
	t.Helper()
	l := Lab(t)
	w, err := l.Clients(l.Witness(), attempts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// Stores are the control stores of names' tables in the shared lab's three
// regions (primary, DR, witness), by region, their calls made with
// attempts tries: the fixture the control, failover, guard, orders and
// readiness tests share.
func Stores(t testing.TB, names region.Names, attempts int) map[string]*control.Store {
	t.Helper()
	p, dr := Clients(t, attempts)
	w := Witness(t, attempts)
	return map[string]*control.Store{p.Name: control.New(p, names), dr.Name: control.New(dr, names), w.Name: control.New(w, names)}
}

// Lambda returns a Lambda client for the shared lab's control plane in a
// region (the user's functions: create, invoke, URLs), one attempt per call.
func Lambda(t testing.TB, regionName string) *lambda.Client {
	t.Helper()
	l := Lab(t)
	ep, err := l.Endpoints(regionName)
	if err != nil || ep.Lambda == "" {
		t.Fatalf("the lab's Lambda in %s: %q %v", regionName, ep.Lambda, err)
	}
	c := l.Credentials()
	return lambda.New(lambda.Options{Region: regionName, BaseEndpoint: aws.String(ep.Lambda), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")})
}

// Attr is a table's attribute definition, for tests that create tables as
// a user would.
func Attr(name string, typ types.ScalarAttributeType) types.AttributeDefinition {
	return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: typ}
}

// Key is one element of a table's or an index's key schema.
func Key(name string, kt types.KeyType) types.KeySchemaElement {
	return types.KeySchemaElement{AttributeName: aws.String(name), KeyType: kt}
}

// Context is a test's context, cancelled when the test ends or after a
// minute, whichever comes first: a hung call fails its test, not the run.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
