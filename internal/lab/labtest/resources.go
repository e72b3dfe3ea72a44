package labtest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
