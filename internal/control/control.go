package control

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/region"
)

// ErrConflict means a compare-and-set lost: the record is not at the
// expected epoch (another controller moved it first).
var ErrConflict = errors.New("control record changed concurrently")

// ErrNoRecord means the control table has no active record yet.
var ErrNoRecord = errors.New("no active record: the region was not initialised (run `pilotlight lab up` or deploy)")

// Store reads and writes one region's control table.
type Store struct {
	Region string // the region whose table this is
	c      *dynamodb.Client
	table  string
}

// New returns a Store for a region's control table.
func New(c *region.Clients, names region.Names) *Store {
	return &Store{Region: c.Name, c: c.DynamoDB, table: names.ControlTable()}
}

// Open returns a Store for the control table named table in region,
// through a client of that region: how an application that is not
// pilotlight's (the guard package) reaches it.
func Open(regionName string, c *dynamodb.Client, table string) *Store {
	return &Store{Region: regionName, c: c, table: table}
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		region.ControlHashKey: &types.AttributeValueMemberS{Value: pk},
		region.ControlSortKey: &types.AttributeValueMemberS{Value: sk},
	}
}

// activeKey is the active record's key (region.Names owns it).
var activeKey = key(region.Names{}.ActiveRecordKey())

// Active reads the active record with a strongly consistent read.
func (s *Store) Active(ctx context.Context) (record.Active, error) {
	out, err := s.c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: activeKey, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return record.Active{}, fmt.Errorf("read active record in %s: %w", s.Region, err)
	}
	if out.Item == nil {
		return record.Active{}, ErrNoRecord
	}
	return decodeActive(out.Item)
}

func decodeActive(it map[string]types.AttributeValue) (record.Active, error) {
	var a record.Active
	r, ok := it["active_region"].(*types.AttributeValueMemberS)
	e, ok2 := it["epoch"].(*types.AttributeValueMemberN)
	if !ok || !ok2 {
		return a, errors.New("active record is malformed: it needs active_region (S) and epoch (N)")
	}
	n, err := strconv.ParseInt(e.Value, 10, 64)
	if err != nil {
		return a, fmt.Errorf("active record epoch %q: %w", e.Value, err)
	}
	a.Region, a.Epoch = r.Value, n
	if s, ok := it["since"].(*types.AttributeValueMemberS); ok {
		a.Since, _ = time.Parse(time.RFC3339Nano, s.Value)
	}
	if g, ok := it["granted_until"].(*types.AttributeValueMemberN); ok {
		if ms, err := strconv.ParseInt(g.Value, 10, 64); err == nil && ms > 0 {
			a.GrantedUntil = time.UnixMilli(ms).UTC()
		}
	}
	if h, ok := it["held_for"].(*types.AttributeValueMemberS); ok {
		a.Hold = h.Value
	}
	if k, ok := it["hold_kind"].(*types.AttributeValueMemberS); ok {
		a.HoldKind = record.HoldKind(k.Value)
	}
	if u, ok := it["hold_until"].(*types.AttributeValueMemberN); ok {
		if ms, err := strconv.ParseInt(u.Value, 10, 64); err == nil && ms > 0 {
			a.HoldUntil = time.UnixMilli(ms).UTC()
		}
	}
	if t, ok := it["tenure"].(*types.AttributeValueMemberN); ok {
		if ms, err := strconv.ParseInt(t.Value, 10, 64); err == nil && ms > 0 {
			a.Tenure = time.UnixMilli(ms).UTC()
		}
	}
	if f, ok := it["from_since"].(*types.AttributeValueMemberN); ok {
		if ms, err := strconv.ParseInt(f.Value, 10, 64); err == nil && ms > 0 {
			a.FromSince = time.UnixMilli(ms).UTC()
		}
	}
	return a, nil
}

func activeItem(a record.Active) map[string]types.AttributeValue {
	it := key(region.Names{}.ActiveRecordKey())
	it["active_region"] = &types.AttributeValueMemberS{Value: a.Region}
	it["epoch"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(a.Epoch, 10)}
	it["since"] = &types.AttributeValueMemberS{Value: a.Since.UTC().Format(time.RFC3339Nano)}
	it["granted_until"] = msValue(a.GrantedUntil)
	if !a.Tenure.IsZero() {
		it["tenure"] = msValue(a.Tenure)
	}
	if a.Hold != "" {
		it["held_for"] = &types.AttributeValueMemberS{Value: a.Hold}
		if a.HoldKind != "" {
			it["hold_kind"] = &types.AttributeValueMemberS{Value: string(a.HoldKind)}
		}
		if !a.HoldUntil.IsZero() {
			it["hold_until"] = msValue(a.HoldUntil)
		}
		if !a.FromSince.IsZero() {
			it["from_since"] = msValue(a.FromSince)
		}
	}
	return it
}

// Init writes the first active record unless one exists. It returns the
// record in force.
func (s *Store) Init(ctx context.Context, a record.Active) (record.Active, error) {
	_, err := s.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: activeItem(a),
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return s.Active(ctx)
	}
	if err != nil {
		return record.Active{}, fmt.Errorf("init active record in %s: %w", s.Region, err)
	}
	return a, nil
}

// CompareAndSet replaces the active record if it is still at epoch expect.
// It returns ErrConflict when another writer moved it.
func (s *Store) CompareAndSet(ctx context.Context, expect int64, next record.Active) error {
	_, err := s.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: activeItem(next),
		ConditionExpression:       aws.String("epoch = :e"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":e": &types.AttributeValueMemberN{Value: strconv.FormatInt(expect, 10)}}})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("set active record in %s: %w", s.Region, err)
	}
	return nil
}

// Raise writes next if the record's epoch is lower (or missing): fencing a
// region means raising its epoch past the one it accepts writes at. Raising
// to an epoch already held is a no-op, so retries are harmless.
func (s *Store) Raise(ctx context.Context, next record.Active) error {
	_, err := s.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: activeItem(next),
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR epoch < :e"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":e": &types.AttributeValueMemberN{Value: strconv.FormatInt(next.Epoch, 10)}}})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		cur, rerr := s.Active(ctx)
		if rerr == nil && cur.Epoch >= next.Epoch {
			return nil
		}
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("raise epoch in %s: %w", s.Region, err)
	}
	return nil
}

// ActiveCondition is a transaction item that holds only while this region is
// active at epoch: put it beside a write and the write cannot land in a
// fenced region, however the fence and the write interleave.
func (s *Store) ActiveCondition(epoch int64) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                 aws.String(s.table),
		Key:                       activeKey,
		ConditionExpression:       aws.String("active_region = :r AND epoch = :e"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":r": &types.AttributeValueMemberS{Value: s.Region}, ":e": &types.AttributeValueMemberN{Value: strconv.FormatInt(epoch, 10)}},
	}}
}
