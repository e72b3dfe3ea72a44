package validate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/validate/digest"
)

// Segments selects a range of a table's parallel-scan segments: First to
// Last inclusive, out of Total. The zero value is not valid; use AllSegments.
type Segments struct {
	Total int `json:"total"`
	First int `json:"first"`
	Last  int `json:"last"`
}

// AllSegments is every segment of a scan split n ways.
func AllSegments(n int) Segments { return Segments{Total: n, First: 0, Last: n - 1} }

// Check names the problem with a segment range.
func (s Segments) Check() error {
	switch {
	case s.Total < 1 || s.Total > 1000000:
		return fmt.Errorf("segments: %d is out of range: use 1 to 1000000 (DynamoDB's limit)", s.Total)
	case s.First < 0 || s.Last >= s.Total || s.First > s.Last:
		return fmt.Errorf("segment range %d-%d is not within 0-%d: give first-last with first ≤ last < --segments", s.First, s.Last, s.Total-1)
	}
	return nil
}

// ParseSegmentRange reads "first-last" (or a single segment number).
func ParseSegmentRange(s string, total int) (Segments, error) {
	out := Segments{Total: total}
	a, b, found := strings.Cut(s, "-")
	if !found {
		b = a
	}
	if _, err := fmt.Sscanf(a, "%d", &out.First); err != nil {
		return out, fmt.Errorf("segment range %q: want first-last, e.g. 0-7", s)
	}
	if _, err := fmt.Sscanf(b, "%d", &out.Last); err != nil {
		return out, fmt.Errorf("segment range %q: want first-last, e.g. 0-7", s)
	}
	return out, out.Check()
}

// KeyNames returns a table's key attribute names, hash key first.
func KeyNames(ctx context.Context, db *dynamodb.Client, table string) ([]string, error) {
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("table %s does not exist: %w", table, err)
		}
		return nil, fmt.Errorf("describe table %s: %w", table, err)
	}
	keys := make([]string, 0, 2)
	for _, k := range out.Table.KeySchema {
		if k.KeyType == types.KeyTypeHash {
			keys = append([]string{aws.ToString(k.AttributeName)}, keys...)
		} else {
			keys = append(keys, aws.ToString(k.AttributeName))
		}
	}
	return keys, nil
}

// IsCanary reports whether an item is a probe's canary, which the validator
// and snapshots leave out: its hash key is a string starting with
// region.CanaryPrefix.
func IsCanary(item digest.Item, hashKey string) bool {
	s, ok := item[hashKey].(*types.AttributeValueMemberS)
	return ok && strings.HasPrefix(s.Value, region.CanaryPrefix)
}

// Scan reads the selected segments of a table in parallel, one goroutine
// per segment, calling fn with each page. fn is called concurrently from
// different segments, never concurrently for one segment. The first error
// stops the scan.
func Scan(ctx context.Context, db *dynamodb.Client, table string, seg Segments, consistent bool, fn func(segment int, page []map[string]types.AttributeValue) error) error {
	if err := seg.Check(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for s := seg.First; s <= seg.Last; s++ {
		wg.Go(func() {
			in := &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(consistent)}
			if seg.Total > 1 {
				in.Segment, in.TotalSegments = aws.Int32(int32(s)), aws.Int32(int32(seg.Total))
			}
			for {
				out, err := db.Scan(ctx, in)
				if err != nil {
					cancel(fmt.Errorf("scan %s segment %d/%d: %w", table, s, seg.Total, err))
					return
				}
				if err := fn(s, out.Items); err != nil {
					cancel(err)
					return
				}
				if len(out.LastEvaluatedKey) == 0 {
					return
				}
				in.ExclusiveStartKey = out.LastEvaluatedKey
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}
