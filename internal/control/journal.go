package control

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/region"
)

// legacyCompleted is what journals written before Completed had its own
// name call it; decodeEntry reads it as Completed.
const legacyCompleted = "active"

// RunKey is the partition of a run's journal.
func RunKey(epoch int64) string { return region.Names{}.JournalKey(epoch) }

// Record journals a phase once: a phase already recorded is left as it was,
// so a resumed run keeps the original timestamps. It reports whether this
// call wrote it.
func (s *Store) Record(ctx context.Context, e record.Entry) (bool, error) {
	idx := e.Phase.Index()
	if idx < 0 {
		return false, fmt.Errorf("unknown phase %q", e.Phase)
	}
	it := key(RunKey(e.Epoch), fmt.Sprintf("%02d#%s", idx, e.Phase))
	it["epoch"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(e.Epoch, 10)}
	it["phase"] = &types.AttributeValueMemberS{Value: string(e.Phase)}
	it["at"] = &types.AttributeValueMemberS{Value: e.At.UTC().Format(time.RFC3339Nano)}
	it["from"] = &types.AttributeValueMemberS{Value: e.From}
	it["to"] = &types.AttributeValueMemberS{Value: e.To}
	if e.Detail != "" {
		it["detail"] = &types.AttributeValueMemberS{Value: e.Detail}
	}
	_, err := s.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: it, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("journal %s %s in %s: %w", RunKey(e.Epoch), e.Phase, s.Region, err)
	}
	return true, nil
}

// Run returns a run's journal in phase order.
func (s *Store) Run(ctx context.Context, epoch int64) ([]record.Entry, error) {
	out, err := s.c.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": region.ControlHashKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: RunKey(epoch)}}})
	if err != nil {
		return nil, fmt.Errorf("read journal %s in %s: %w", RunKey(epoch), s.Region, err)
	}
	var es []record.Entry
	for _, it := range out.Items {
		e := decodeEntry(it)
		e.Epoch = epoch
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Phase.Index() < es[j].Phase.Index() })
	return es, nil
}

// Runs returns every run's journal in this region, by epoch (a scan of the
// control table: it holds a few rows per failover).
func (s *Store) Runs(ctx context.Context) (map[int64][]record.Entry, error) {
	out := map[int64][]record.Entry{}
	p := dynamodb.NewScanPaginator(s.c, &dynamodb.ScanInput{TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		FilterExpression:          aws.String("begins_with(#pk, :run)"),
		ExpressionAttributeNames:  map[string]string{"#pk": region.ControlHashKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{":run": &types.AttributeValueMemberS{Value: "run#"}}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the journal in %s: %w", s.Region, err)
		}
		for _, it := range page.Items {
			e := decodeEntry(it)
			out[e.Epoch] = append(out[e.Epoch], e)
		}
	}
	for _, es := range out {
		sort.Slice(es, func(i, j int) bool { return es[i].Phase.Index() < es[j].Phase.Index() })
	}
	return out, nil
}

func decodeEntry(it map[string]types.AttributeValue) record.Entry {
	var e record.Entry
	if v, ok := it["epoch"].(*types.AttributeValueMemberN); ok {
		e.Epoch, _ = strconv.ParseInt(v.Value, 10, 64)
	}
	if v, ok := it["phase"].(*types.AttributeValueMemberS); ok {
		e.Phase = record.Phase(v.Value)
		if v.Value == legacyCompleted {
			e.Phase = record.Completed
		}
	}
	if v, ok := it["at"].(*types.AttributeValueMemberS); ok {
		e.At, _ = time.Parse(time.RFC3339Nano, v.Value)
	}
	if v, ok := it["from"].(*types.AttributeValueMemberS); ok {
		e.From = v.Value
	}
	if v, ok := it["to"].(*types.AttributeValueMemberS); ok {
		e.To = v.Value
	}
	if v, ok := it["detail"].(*types.AttributeValueMemberS); ok {
		e.Detail = v.Value
	}
	return e
}

// Flag rows: small named facts a run needs to remember, such as a fence
// that has not landed yet.

// SetFlag writes a flag row with a value.
func (s *Store) SetFlag(ctx context.Context, name, value string) error {
	it := key("flag", name)
	it["value"] = &types.AttributeValueMemberS{Value: value}
	_, err := s.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: it})
	if err != nil {
		return fmt.Errorf("set flag %s in %s: %w", name, s.Region, err)
	}
	return nil
}

// Flag reads a flag row; "" when unset.
func (s *Store) Flag(ctx context.Context, name string) (string, error) {
	out, err := s.c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key("flag", name), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("read flag %s in %s: %w", name, s.Region, err)
	}
	if v, ok := out.Item["value"].(*types.AttributeValueMemberS); ok {
		return v.Value, nil
	}
	return "", nil
}

// ClearFlag removes a flag row.
func (s *Store) ClearFlag(ctx context.Context, name string) error {
	_, err := s.c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key("flag", name)})
	if err != nil {
		return fmt.Errorf("clear flag %s in %s: %w", name, s.Region, err)
	}
	return nil
}

// Forget removes a phase row: a run refused by its guards forgets its
// detection, so the next alarm starts a run of its own with its own time.
func (s *Store) Forget(ctx context.Context, epoch int64, p record.Phase) error {
	_, err := s.c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key(RunKey(epoch), fmt.Sprintf("%02d#%s", p.Index(), p))})
	if err != nil {
		return fmt.Errorf("forget %s %s in %s: %w", RunKey(epoch), p, s.Region, err)
	}
	return nil
}
