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

	"github.com/pilotlight/pilotlight/internal/region"
)

// Active is one control record: which region holds the write lease, at
// which epoch, since when, and until when this record grants it. Epochs only
// grow. One record lives in each of the three control tables (own region,
// peer, witness); the region that holds the highest epoch on two of them is
// the active region (see View).
type Active struct {
	Region string    `json:"active_region"` // the holder
	Epoch  int64     `json:"epoch"`
	Since  time.Time `json:"since"`
	// GrantedUntil is the end of the grant this record gives its holder;
	// zero when it grants nothing (a fence, or a record from before leases).
	GrantedUntil time.Time `json:"granted_until,omitzero"`
	// Hold, when set, stops renewals at this epoch: a planned handover
	// holds the new holder back until replication has drained; a forced
	// claim holds it until the old holder's lease has surely run out.
	Hold string `json:"hold,omitempty"`
	// HoldKind says which (HoldHandover or HoldForced; "" on records
	// written before kinds were kept, read as a handover): a run that
	// resumes a held epoch finishes it the way it began.
	HoldKind HoldKind `json:"hold_kind,omitempty"`
	// HoldUntil, for a forced hold, is when the claimer's wait ends by its
	// clock: a resumer waits until then plus ε by its own.
	HoldUntil time.Time `json:"hold_until,omitzero"`
	// FromSince, for a handover hold, is when the source's tenure began
	// (the Since of the epoch it handed over): the drain proves every write
	// the source acknowledged from then on, and a resumed drain — which has
	// no memory of the source's record — reads it here. Zero: unknown (a
	// record from before it was kept); the drain then proves the whole
	// stream.
	FromSince time.Time `json:"from_since,omitzero"`
	// Tenure, when set, is when its holder's continuous tenure began,
	// before this epoch: a rolled-back handover gives the source its writes
	// back at a new epoch, and the writes it acknowledged at the epoch
	// before are still its own to prove at the next failback. Zero: the
	// tenure began at Since (TenureStart).
	Tenure time.Time `json:"tenure,omitzero"`
}

// TenureStart is when the holder's continuous tenure began: Tenure, or
// Since.
func (a Active) TenureStart() time.Time {
	if !a.Tenure.IsZero() {
		return a.Tenure
	}
	return a.Since
}

// HoldKind is why a record is held.
type HoldKind string

const (
	// HoldHandover: a planned failover stopped writes at its source and
	// waits for replication to drain before Release.
	HoldHandover HoldKind = "handover"
	// HoldForced: a forced claim waits out whatever lease the old holder
	// may still have before Release.
	HoldForced HoldKind = "forced"
)

// Kind is the record's hold kind ("" when not held; a hold of unknown kind
// is a handover, the only kind older records had).
func (a Active) Kind() HoldKind {
	switch {
	case a.Hold == "":
		return ""
	case a.HoldKind == "":
		return HoldHandover
	}
	return a.HoldKind
}

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
func (s *Store) Active(ctx context.Context) (Active, error) {
	out, err := s.c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: activeKey, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Active{}, fmt.Errorf("read active record in %s: %w", s.Region, err)
	}
	if out.Item == nil {
		return Active{}, ErrNoRecord
	}
	return decodeActive(out.Item)
}

func decodeActive(it map[string]types.AttributeValue) (Active, error) {
	var a Active
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
		a.HoldKind = HoldKind(k.Value)
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

func activeItem(a Active) map[string]types.AttributeValue {
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
func (s *Store) Init(ctx context.Context, a Active) (Active, error) {
	_, err := s.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: activeItem(a),
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return s.Active(ctx)
	}
	if err != nil {
		return Active{}, fmt.Errorf("init active record in %s: %w", s.Region, err)
	}
	return a, nil
}

// CompareAndSet replaces the active record if it is still at epoch expect.
// It returns ErrConflict when another writer moved it.
func (s *Store) CompareAndSet(ctx context.Context, expect int64, next Active) error {
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
func (s *Store) Raise(ctx context.Context, next Active) error {
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
