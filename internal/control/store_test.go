package control_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/region"
)

// store is a control table of the test's own in the primary lab region,
// at {us-east-1, epoch 1}.
func store(t *testing.T) (*control.Store, *region.Clients, region.Names) {
	t.Helper()
	names := labtest.Provision(t, "st")
	p, _ := labtest.Clients(t, 1)
	return control.New(p, names), p, names
}

// The first record wins: a second Init (a redeploy, a second lab start)
// leaves the record in force and returns it.
func TestInitKeepsTheRecordInForce(t *testing.T) {
	ctx := labtest.Context(t)
	s, _, _ := store(t)
	got, err := s.Init(ctx, record.Active{Region: west, Epoch: 9, Since: time.Now()})
	if err != nil || got.Region != east || got.Epoch != 1 {
		t.Fatalf("Init over an existing record: %+v, %v; want us-east-1 at epoch 1", got, err)
	}
}

// Compare-and-set moves the record only from the epoch it expects; Raise
// only raises: to the epoch held or a lower one it is a no-op (a retried
// fence, a late one), and the record stays as it is.
func TestRecordMovesOnlyForward(t *testing.T) {
	ctx := labtest.Context(t)
	s, _, _ := store(t)
	if err := s.CompareAndSet(ctx, 7, record.Active{Region: west, Epoch: 8}); !errors.Is(err, control.ErrConflict) {
		t.Fatalf("CompareAndSet from a stale epoch: %v, want ErrConflict", err)
	}
	if err := s.CompareAndSet(ctx, 1, record.Active{Region: west, Epoch: 2}); err != nil {
		t.Fatal(err)
	}
	for _, stale := range []record.Active{{Region: east, Epoch: 1}, {Region: east, Epoch: 2}} {
		if err := s.Raise(ctx, stale); err != nil {
			t.Fatalf("Raise to epoch %d with %d held: %v, want a no-op", stale.Epoch, 2, err)
		}
		if a, err := s.Active(ctx); err != nil || a.Region != west || a.Epoch != 2 {
			t.Fatalf("after a stale Raise the record is %+v, %v; want us-west-2 at epoch 2", a, err)
		}
	}
	if err := s.Raise(ctx, record.Active{Region: east, Epoch: 3}); err != nil {
		t.Fatal(err)
	}
	if a, err := s.Active(ctx); err != nil || a.Region != east || a.Epoch != 3 {
		t.Fatalf("record %+v, %v; want us-east-1 at epoch 3", a, err)
	}
}

// A write guarded by ActiveCondition lands while its region is active at
// its epoch, and not once the record has been raised past it: the fence
// holds however the fence and the write interleave.
func TestActiveConditionFencesAWrite(t *testing.T) {
	ctx := labtest.Context(t)
	s, c, names := store(t)
	put := func(id string) error {
		_, err := c.DynamoDB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			s.ActiveCondition(1),
			{Put: &types.Put{TableName: aws.String(names.Table()), Item: map[string]types.AttributeValue{region.TableHashKey: &types.AttributeValueMemberS{Value: id}}}},
		}})
		return err
	}
	if err := put("before"); err != nil {
		t.Fatalf("a write at the active epoch: %v", err)
	}
	if err := s.Raise(ctx, record.Active{Region: west, Epoch: 2}); err != nil {
		t.Fatal(err)
	}
	var canceled *types.TransactionCanceledException
	if err := put("after"); !errors.As(err, &canceled) {
		t.Fatalf("a write after the fence: %v, want the transaction cancelled", err)
	}
}

// A phase is journaled once (a resumed run keeps its first timestamps),
// runs come back in phase order and grouped by epoch, and a forgotten
// phase can be journaled again.
func TestJournal(t *testing.T) {
	ctx := labtest.Context(t)
	s, _, _ := store(t)
	t0 := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	rec := func(epoch int64, p record.Phase, at time.Time) bool {
		t.Helper()
		wrote, err := s.Record(ctx, record.Entry{Epoch: epoch, Phase: p, At: at, From: east, To: west})
		if err != nil {
			t.Fatal(err)
		}
		return wrote
	}
	if !rec(2, record.Decided, t0.Add(time.Second)) || !rec(2, record.Detected, t0) {
		t.Fatal("first records of a phase must be written")
	}
	if rec(2, record.Detected, t0.Add(time.Hour)) {
		t.Fatal("a phase journaled twice")
	}
	rec(3, record.Detected, t0.Add(time.Minute))
	run, err := s.Run(ctx, 2)
	if err != nil || len(run) != 2 || run[0].Phase != record.Detected || !run[0].At.Equal(t0) || run[1].Phase != record.Decided {
		t.Fatalf("run 2: %+v, %v; want detected (at its first time), decided", run, err)
	}
	runs, err := s.Runs(ctx)
	if err != nil || len(runs[2]) != 2 || len(runs[3]) != 1 {
		t.Fatalf("runs: %+v, %v", runs, err)
	}
	if err := s.Forget(ctx, 2, record.Detected); err != nil {
		t.Fatal(err)
	}
	if !rec(2, record.Detected, t0.Add(time.Hour)) {
		t.Fatal("a forgotten phase must be journaled again")
	}
	if _, err := s.Record(ctx, record.Entry{Epoch: 2, Phase: "finished"}); err == nil || !strings.Contains(err.Error(), `unknown phase "finished"`) {
		t.Fatalf("an unknown phase: %v", err)
	}
}

// A journal written when Completed was called "active" reads as Completed,
// so a run finished by an older controller is not resumed.
func TestJournalReadsTheOldCompletedName(t *testing.T) {
	ctx := labtest.Context(t)
	s, c, names := store(t)
	item := map[string]types.AttributeValue{
		region.ControlHashKey: &types.AttributeValueMemberS{Value: control.RunKey(4)},
		region.ControlSortKey: &types.AttributeValueMemberS{Value: fmt.Sprintf("%02d#active", len(record.Phases)-1)},
		"epoch":               &types.AttributeValueMemberN{Value: "4"}, "phase": &types.AttributeValueMemberS{Value: "active"},
		"at": &types.AttributeValueMemberS{Value: "2026-11-01T00:00:00Z"},
	}
	if _, err := c.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(names.ControlTable()), Item: item}); err != nil {
		t.Fatal(err)
	}
	run, err := s.Run(ctx, 4)
	if err != nil || len(run) != 1 || run[0].Phase != record.Completed {
		t.Fatalf("old journal: %+v, %v; want Completed", run, err)
	}
}

// Flags remember what a run must come back to (a fence not yet landed).
func TestFlags(t *testing.T) {
	ctx := labtest.Context(t)
	s, _, _ := store(t)
	if v, err := s.Flag(ctx, "fence-pending"); err != nil || v != "" {
		t.Fatalf("unset flag: %q, %v", v, err)
	}
	if err := s.SetFlag(ctx, "fence-pending", "us-east-1@2"); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Flag(ctx, "fence-pending"); err != nil || v != "us-east-1@2" {
		t.Fatalf("flag: %q, %v", v, err)
	}
	if err := s.ClearFlag(ctx, "fence-pending"); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Flag(ctx, "fence-pending"); v != "" {
		t.Fatalf("cleared flag reads %q", v)
	}
}

// A record someone wrote by hand without an epoch is an error that says
// what the record needs, not a zero epoch a claim would build on.
func TestMalformedRecordIsAnError(t *testing.T) {
	ctx := labtest.Context(t)
	s, c, names := store(t)
	pk, sk := names.ActiveRecordKey()
	_, err := c.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(names.ControlTable()), Item: map[string]types.AttributeValue{
		region.ControlHashKey: &types.AttributeValueMemberS{Value: pk}, region.ControlSortKey: &types.AttributeValueMemberS{Value: sk},
		"active_region": &types.AttributeValueMemberS{Value: east}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Active(ctx); err == nil || !strings.Contains(err.Error(), "needs active_region (S) and epoch (N)") {
		t.Fatalf("malformed record: %v", err)
	}
}
