package control

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotlight/pilotlight/internal/control/record"
)

// ExpireAttr is the control tables' TTL attribute (the templates enable
// TTL on it): the journaled lease intervals and revocations carry it.
const ExpireAttr = "expire_at"

func (s *Store) journalLease(ctx context.Context, iv leaseInterval) error {
	it := key("leases", fmt.Sprintf("%012d#%015d", iv.epoch, iv.start.UnixMilli()))
	it["holder"] = &types.AttributeValueMemberS{Value: iv.holder}
	it["epoch"] = numValue(iv.epoch)
	it["start"] = msValue(iv.start)
	it["until"] = msValue(iv.until)
	// Kept for a week: the control tables' TTL attribute.
	it[ExpireAttr] = numValue(iv.until.Add(7 * 24 * time.Hour).Unix())
	_, err := s.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: it})
	return err
}

// revoke ends the journaled lease intervals of holder at epoch at t: a
// handover moved the holder's own record, after which nothing commits there.
// It journals the revocation itself, so a renewal that was in flight during
// the handover (its grants landed before the records moved, its interval is
// journaled after) is cut at t too when the intervals are read.
func (s *Store) revoke(ctx context.Context, holder string, epoch int64, t time.Time) error {
	it := key("leases", fmt.Sprintf("%012d#revoked#%s", epoch, holder))
	it["holder"] = &types.AttributeValueMemberS{Value: holder}
	it["epoch"] = numValue(epoch)
	it["revoked"] = msValue(t)
	it[ExpireAttr] = numValue(t.Add(7 * 24 * time.Hour).Unix())
	_, err := s.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: it})
	if err != nil {
		return fmt.Errorf("journal the revocation of %s@%d in %s: %w", holder, epoch, s.Region, err)
	}
	return nil
}

// Intervals returns the confirmed lease intervals journaled in this region.
func (s *Store) Intervals(ctx context.Context) ([]record.Interval, error) {
	var out []record.Interval
	type revocation struct {
		holder string
		epoch  int64
	}
	revoked := map[revocation]time.Time{}
	p := dynamodb.NewQueryPaginator(s.c, &dynamodb.QueryInput{TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "leases"}}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read lease intervals in %s: %w", s.Region, err)
		}
		for _, it := range page.Items {
			if v, ok := it["revoked"].(*types.AttributeValueMemberN); ok {
				ms, _ := strconv.ParseInt(v.Value, 10, 64)
				l := decodeLease(map[string]types.AttributeValue{"epoch": it["epoch"]})
				h, _ := it["holder"].(*types.AttributeValueMemberS)
				if h != nil {
					revoked[revocation{h.Value, l.Epoch}] = time.UnixMilli(ms).UTC()
				}
				continue
			}
			iv := record.Interval{}
			if v, ok := it["holder"].(*types.AttributeValueMemberS); ok {
				iv.Holder = v.Value
			}
			l := decodeLease(map[string]types.AttributeValue{"epoch": it["epoch"], "lease_until": it["until"]})
			iv.Epoch, iv.Until = l.Epoch, l.Until
			if v, ok := it["start"].(*types.AttributeValueMemberN); ok {
				ms, _ := strconv.ParseInt(v.Value, 10, 64)
				iv.Start = time.UnixMilli(ms).UTC()
			}
			out = append(out, iv)
		}
	}
	for i, iv := range out {
		if t, ok := revoked[revocation{iv.Holder, iv.Epoch}]; ok && iv.Until.After(t) {
			out[i].Until = t
		}
	}
	return out, nil
}
