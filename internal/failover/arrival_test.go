package failover_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	. "github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/region"
)

func order(id, note string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{region.TableHashKey: &types.AttributeValueMemberS{Value: id}, "note": &types.AttributeValueMemberS{Value: note}}
}

// The failback's drain proves arrival item by item, not by one canary:
// items replicate independently, so a drain that saw its canary arrive
// could release the target while an earlier write was still on its way.
// (At aa72caa the drain wrote one canary and waited for it alone.)
func TestArrivalDrainProvesEveryItemAndObject(t *testing.T) {
	ctx := ctxT(t)
	names := labtest.Provision(t, "arr")
	east, west := labtest.Clients(t, 0)
	table := names.Table()
	// West (the region failing back) acknowledged three writes and a
	// removal; east has only some of them.
	labtest.PutItems(t, ctx, west, table, order("o-1", "a"), order("o-2", "b"), order("o-3", "c"), order("o-4", "gone"))
	if _, err := west.DynamoDB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{region.TableHashKey: &types.AttributeValueMemberS{Value: "o-4"}}}); err != nil {
		t.Fatal(err)
	}
	labtest.PutItems(t, ctx, east, table, order("o-1", "a"), order("o-2", "stale"), order("o-4", "gone"))
	d := &ArrivalDrainer{Clients: map[string]*region.Clients{east.Name: east, west.Name: west}, Names: names, Timeout: 3 * time.Second}
	err := d.Drain(ctx, west.Name, east.Name)
	if err == nil {
		t.Fatal("the drain passed with o-2 stale, o-3 missing and o-4 not removed in east")
	}
	for _, want := range []string{"3 items", "not in " + east.Name} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("drain error %q does not say %q", err, want)
		}
	}
	labtest.PutItems(t, ctx, east, table, order("o-2", "b"), order("o-3", "c"))
	if err := d.Drain(ctx, west.Name, east.Name); err == nil || !strings.Contains(err.Error(), "1 items") {
		t.Fatalf("with o-4 still in east: %v, want one item pending", err)
	}
	if _, err := east.DynamoDB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{region.TableHashKey: &types.AttributeValueMemberS{Value: "o-4"}}}); err != nil {
		t.Fatal(err)
	}
	if err := d.Drain(ctx, west.Name, east.Name); err != nil {
		t.Fatalf("every write arrived: %v", err)
	}
	// A write after the catch-up (the second drain reads on from there).
	labtest.PutItems(t, ctx, west, table, order("o-1", "changed"))
	if err := d.Drain(ctx, west.Name, east.Name); err == nil {
		t.Fatal("the drain after the handover missed a write made since the catch-up")
	}
	labtest.PutItems(t, ctx, east, table, order("o-1", "changed"))
	if err := d.Drain(ctx, west.Name, east.Name); err != nil {
		t.Fatal(err)
	}

	// Objects: the latest version of each, by ETag.
	d.Objects = true
	put := func(c *region.Clients, r, key, body string) {
		t.Helper()
		if _, err := c.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(names.Bucket(r)), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	put(west, west.Name, "attachments/o-1", "v2")
	put(east, east.Name, "attachments/o-1", "v1")
	if err := d.Drain(ctx, west.Name, east.Name); err == nil || !strings.Contains(err.Error(), "attachments/o-1") {
		t.Fatalf("an object with another ETag in east: %v, want it named", err)
	}
	put(east, east.Name, "attachments/o-1", "v2")
	if err := d.Drain(ctx, west.Name, east.Name); err != nil {
		t.Fatal(err)
	}
}
