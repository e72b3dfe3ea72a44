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
)

// LeaseConfig is the lease arithmetic. Term + Epsilon + Delta must fit inside
// the detection window (alarm period × datapoints), so that the lease has run
// out by the time an alarm can trigger a claim.
type LeaseConfig struct {
	// Term is how long one renewal grants. Renewals come every Term/4.
	Term time.Duration
	// Epsilon bounds the difference between any two regions' clocks.
	Epsilon time.Duration
	// Delta bounds how long after its lease check a write may still be
	// applied: the whole write deadline, SDK retries included.
	Delta time.Duration
}

// Lease configurations: the lab (detection window 3 s) and AWS (fast profile
// 30 s; the free profile's 180 s window takes the same lease).
var (
	LabLease = LeaseConfig{Term: 2 * time.Second, Epsilon: 250 * time.Millisecond, Delta: 750 * time.Millisecond}
	AWSLease = LeaseConfig{Term: 20 * time.Second, Epsilon: 500 * time.Millisecond, Delta: 5 * time.Second}
)

// Validate checks the arithmetic against a detection window (0: no check).
func (c LeaseConfig) Validate(window time.Duration) error {
	if c.Term <= 0 || c.Epsilon < 0 || c.Delta <= 0 {
		return fmt.Errorf("lease: term %s, ε %s, δ %s: term and δ must be positive, ε not negative", c.Term, c.Epsilon, c.Delta)
	}
	if window > 0 && c.Term+c.Epsilon+c.Delta > window {
		return fmt.Errorf("lease: term %s + ε %s + δ %s = %s is longer than the detection window %s: shorten the term", c.Term, c.Epsilon, c.Delta, c.Term+c.Epsilon+c.Delta, window)
	}
	return nil
}

// RenewEvery is the renewal interval: a quarter of the term.
func (c LeaseConfig) RenewEvery() time.Duration { return c.Term / 4 }

var leaseKey = key("lease", "lease")

func msValue(t time.Time) *types.AttributeValueMemberN {
	if t.IsZero() {
		return &types.AttributeValueMemberN{Value: "0"}
	}
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.UnixMilli(), 10)}
}

func numValue(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func decodeLease(it map[string]types.AttributeValue) record.Lease {
	var l record.Lease
	if e, ok := it["epoch"].(*types.AttributeValueMemberN); ok {
		l.Epoch, _ = strconv.ParseInt(e.Value, 10, 64)
	}
	if u, ok := it["lease_until"].(*types.AttributeValueMemberN); ok {
		if ms, err := strconv.ParseInt(u.Value, 10, 64); err == nil && ms > 0 {
			l.Until = time.UnixMilli(ms).UTC()
		}
	}
	return l
}

// WriteState is what the write path reads: the region's own active record
// and lease item, read together, strongly consistent.
type WriteState struct {
	Active record.Active
	Lease  record.Lease
}

// Writable reports whether this store's region may acknowledge a write
// checked at now, and if not, why.
func (w WriteState) Writable(self string, now time.Time, cfg LeaseConfig) error {
	switch {
	case w.Active.Region != self:
		return fmt.Errorf("%s is not the active region (%s is, at epoch %d)", self, w.Active.Region, w.Active.Epoch)
	case w.Active.Hold != "":
		return fmt.Errorf("%s is active at epoch %d but held (%s)", self, w.Active.Epoch, w.Active.Hold)
	case w.Lease.Epoch != w.Active.Epoch:
		return fmt.Errorf("%s holds no lease at epoch %d yet", self, w.Active.Epoch)
	case !now.Add(cfg.Delta + cfg.Epsilon).Before(w.Lease.Until):
		return fmt.Errorf("%s's lease at epoch %d ran out at %s", self, w.Lease.Epoch, w.Lease.Until.Format(time.RFC3339Nano))
	}
	return nil
}

// Holding reports whether self holds a live lease at its record's epoch at
// now (without the write path's δ + ε margin): what /health reports, so a
// renewal that comes a little late does not send routing away.
func (w WriteState) Holding(self string, now time.Time) error {
	switch {
	case w.Active.Region != self:
		return fmt.Errorf("%s is not the active region (%s is, at epoch %d)", self, w.Active.Region, w.Active.Epoch)
	case w.Active.Hold != "":
		return fmt.Errorf("%s is active at epoch %d but held (%s)", self, w.Active.Epoch, w.Active.Hold)
	case w.Lease.Epoch != w.Active.Epoch || !now.Before(w.Lease.Until):
		return fmt.Errorf("%s holds no live lease at epoch %d", self, w.Active.Epoch)
	}
	return nil
}

// WriteState reads the active record and the lease item in one
// transactional (strongly consistent) read.
func (s *Store) WriteState(ctx context.Context) (WriteState, error) {
	out, err := s.c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
		{Get: &types.Get{TableName: aws.String(s.table), Key: activeKey}},
		{Get: &types.Get{TableName: aws.String(s.table), Key: leaseKey}},
	}})
	if err != nil {
		return WriteState{}, fmt.Errorf("read control records in %s: %w", s.Region, err)
	}
	if len(out.Responses) != 2 || out.Responses[0].Item == nil {
		return WriteState{}, ErrNoRecord
	}
	a, err := decodeActive(out.Responses[0].Item)
	if err != nil {
		return WriteState{}, err
	}
	var l record.Lease
	if out.Responses[1].Item != nil {
		l = decodeLease(out.Responses[1].Item)
	}
	return WriteState{Active: a, Lease: l}, nil
}

// Lease reads the region's lease item (zero when there is none).
func (s *Store) Lease(ctx context.Context) (record.Lease, error) {
	out, err := s.c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: leaseKey, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return record.Lease{}, fmt.Errorf("read lease in %s: %w", s.Region, err)
	}
	return decodeLease(out.Item), nil
}

// setLease writes the lease item; lease_until never decreases.
func (s *Store) setLease(ctx context.Context, l record.Lease) error {
	_, err := s.c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(s.table), Key: leaseKey,
		UpdateExpression:          aws.String("SET epoch = :e, lease_until = :u"),
		ConditionExpression:       aws.String("attribute_not_exists(lease_until) OR lease_until <= :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":e": numValue(l.Epoch), ":u": msValue(l.Until)}})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		// A racing renewal at the same epoch already wrote a later end:
		// the lease is at least as long as this one.
		if cur, rerr := s.Lease(ctx); rerr == nil && cur.Epoch == l.Epoch && !cur.Until.Before(l.Until) {
			return nil
		}
		return fmt.Errorf("lease in %s: lease_until is already later than %s", s.Region, l.Until.Format(time.RFC3339Nano))
	}
	if err != nil {
		return fmt.Errorf("write lease in %s: %w", s.Region, err)
	}
	return nil
}

// grant extends the record's grant to holder at epoch (a renewal). With
// release it also lifts a hold.
func (s *Store) grant(ctx context.Context, holder string, epoch int64, until time.Time, release bool) error {
	// Never shortened: a grant that lands late (its caller gave up on it,
	// or went on with a majority) must not undo a later renewal's grant, or
	// a claimer could see the holder's grant run out while its lease lives.
	monotonic := " AND (attribute_not_exists(granted_until) OR granted_until <= :g)"
	update, cond := "SET granted_until = :g", "epoch = :e AND active_region = :h AND attribute_not_exists(held_for)"+monotonic
	if release {
		update, cond = "SET granted_until = :g REMOVE held_for, hold_kind, hold_until, from_since", "epoch = :e AND active_region = :h"+monotonic
	}
	_, err := s.c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(s.table), Key: activeKey,
		UpdateExpression: aws.String(update), ConditionExpression: aws.String(cond),
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": msValue(until), ":e": numValue(epoch), ":h": &types.AttributeValueMemberS{Value: holder}}})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		// A racing renewal (or release: a resumed run racing the one it
		// resumes) of the same holder already granted longer, and no hold
		// is left: the grant is at least this one.
		if a, rerr := s.Active(ctx); rerr == nil && a.Region == holder && a.Epoch == epoch && a.Hold == "" && !a.GrantedUntil.Before(until.Truncate(time.Millisecond)) {
			return nil
		}
	}
	return conflictOr(err, "renew grant in "+s.Region)
}
