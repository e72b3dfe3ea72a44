package workload

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/orders"
	"github.com/pilotlight/pilotlight/internal/region"
)

// MissingItems returns the ids whose order item the region does not hold.
func MissingItems(ctx context.Context, c *region.Clients, names region.Names, ids []string) ([]string, error) {
	have := map[string]bool{}
	err := batchGet(ctx, c.DynamoDB, "orders in "+c.Name, names.Table(), orderKeys(ids), types.KeysAndAttributes{ProjectionExpression: aws.String("pk")},
		func(it map[string]types.AttributeValue) {
			if v, ok := it[region.TableHashKey].(*types.AttributeValueMemberS); ok {
				have[v.Value] = true
			}
		})
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, id := range ids {
		if !have[orders.ItemKey(id)] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// orderKeys are the order items' keys of ids.
func orderKeys(ids []string) []map[string]types.AttributeValue {
	keys := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = map[string]types.AttributeValue{region.TableHashKey: &types.AttributeValueMemberS{Value: orders.ItemKey(id)}}
	}
	return keys
}

// batchGet reads keys from table, strongly consistent, 100 at a time
// (unprocessed keys asked again, ten times at most), and calls f with each
// item found; ka is the rest of the request (a projection). what names
// the items in errors.
func batchGet(ctx context.Context, db *dynamodb.Client, what, table string, keys []map[string]types.AttributeValue, ka types.KeysAndAttributes, f func(map[string]types.AttributeValue)) error {
	ka.ConsistentRead = aws.Bool(true)
	for start := 0; start < len(keys); start += 100 {
		ka.Keys = keys[start:min(start+100, len(keys))]
		req := map[string]types.KeysAndAttributes{table: ka}
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt > 10 {
				return errors.New("batch get: unprocessed keys after retries")
			}
			out, err := db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return fmt.Errorf("read %s: %w", what, err)
			}
			for _, it := range out.Responses[table] {
				f(it)
			}
			req = out.UnprocessedKeys
		}
	}
	return nil
}

// readOrder reads who committed a write from an item's attributes: its
// region, epoch and commit (or lease-check) time.
func readOrder(it map[string]types.AttributeValue, regionAttr, epochAttr, atAttr string) Order {
	var o Order
	if v, ok := it[regionAttr].(*types.AttributeValueMemberS); ok {
		o.Region = v.Value
	}
	if v, ok := it[epochAttr].(*types.AttributeValueMemberN); ok {
		o.Epoch, _ = strconv.ParseInt(v.Value, 10, 64)
	}
	if v, ok := it[atAttr].(*types.AttributeValueMemberS); ok {
		o.CreatedAt, _ = time.Parse(time.RFC3339Nano, v.Value)
	}
	return o
}

// MissingAttachments returns the ids whose attachment object the region's
// bucket does not hold.
func MissingAttachments(ctx context.Context, c *region.Clients, names region.Names, ids []string) ([]string, error) {
	var (
		mu       sync.Mutex
		missing  []string
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan string)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				_, err := c.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(names.Bucket(c.Name)), Key: aws.String(orders.AttachmentKey(id))})
				mu.Lock()
				switch {
				case err == nil:
				case isNotFound(err):
					missing = append(missing, id)
				case firstErr == nil:
					firstErr = fmt.Errorf("head %s in %s: %w", orders.AttachmentKey(id), c.Name, err)
				}
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	return missing, firstErr
}

func isNotFound(err error) bool {
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() == 404
}

// Order is what the drill reads back of an order item: where and at which
// epoch it was written.
type Order struct {
	Region    string
	Epoch     int64
	CreatedAt time.Time
}

// LookupOrders reads the orders of ids that a region holds.
func LookupOrders(ctx context.Context, c *region.Clients, names region.Names, ids []string) (map[string]Order, error) {
	out := map[string]Order{}
	err := batchGet(ctx, c.DynamoDB, "orders in "+c.Name, names.Table(), orderKeys(ids),
		types.KeysAndAttributes{ProjectionExpression: aws.String("pk, #r, epoch, created_at"), ExpressionAttributeNames: map[string]string{"#r": "region"}},
		func(it map[string]types.AttributeValue) {
			if pk, ok := it[region.TableHashKey].(*types.AttributeValueMemberS); ok {
				out[strings.TrimPrefix(pk.Value, orders.ItemKey(""))] = readOrder(it, "region", "epoch", "created_at")
			}
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PutOrders writes order items directly to a region's table (as another
// client of the table would), each with note set.
func PutOrders(ctx context.Context, c *region.Clients, names region.Names, ids []string, note string) error {
	for _, id := range ids {
		_, err := c.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(names.Table()), Item: map[string]types.AttributeValue{
			region.TableHashKey: &types.AttributeValueMemberS{Value: orders.ItemKey(id)},
			"customer":          &types.AttributeValueMemberS{Value: "lww"},
			"note":              &types.AttributeValueMemberS{Value: note},
		}})
		if err != nil {
			return fmt.Errorf("put %s in %s: %w", id, c.Name, err)
		}
	}
	return nil
}

// OrderNotes reads the note of each order a region holds.
func OrderNotes(ctx context.Context, c *region.Clients, names region.Names, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for _, id := range ids {
		res, err := c.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(names.Table()), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{region.TableHashKey: &types.AttributeValueMemberS{Value: orders.ItemKey(id)}}})
		if err != nil {
			return nil, fmt.Errorf("read %s in %s: %w", id, c.Name, err)
		}
		if v, ok := res.Item["note"].(*types.AttributeValueMemberS); ok {
			out[id] = v.Value
		}
	}
	return out, nil
}
