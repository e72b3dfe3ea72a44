package validate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/internal/validate/verdict"
)

// Invoker calls the data-validator function with a Request payload and
// returns its response (a Partial or a Report).
type Invoker func(ctx context.Context, payload []byte) ([]byte, error)

// FanOut runs the digest pass as n invocations of the data-validator
// function, each over a range of the segments, then one more to merge the
// partial digests and compare. progress hears, after each invocation, how
// many segments have been scanned.
func FanOut(ctx context.Context, invoke Invoker, n, segments, buckets int, settle time.Duration, noObjects bool, progress func(done, total int)) (*verdict.Report, error) {
	if n > segments {
		return nil, fmt.Errorf("--fan-out %d is more than --segments %d: each invocation needs at least one segment", n, segments)
	}
	parts := make([]*Partial, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for i := range n {
		first, last := i*segments/n, (i+1)*segments/n-1
		wg.Go(func() {
			req, _ := json.Marshal(Request{Segments: segments, SegmentRange: fmt.Sprintf("%d-%d", first, last), Buckets: buckets})
			out, err := invoke(ctx, req)
			if err != nil {
				errs[i] = fmt.Errorf("segments %d-%d: %w", first, last, err)
				return
			}
			var p Partial
			if err := json.Unmarshal(out, &p); err != nil {
				errs[i] = fmt.Errorf("segments %d-%d: the function returned %q: %w", first, last, out, err)
				return
			}
			parts[i] = &p
			mu.Lock()
			done += last - first + 1
			if progress != nil {
				progress(done, segments)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	req, _ := json.Marshal(Request{Partials: parts, Settle: settle.String(), NoObjects: noObjects})
	out, err := invoke(ctx, req)
	if err != nil {
		return nil, err
	}
	var rep verdict.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		return nil, fmt.Errorf("the function returned %q: %w", out, err)
	}
	return &rep, nil
}
