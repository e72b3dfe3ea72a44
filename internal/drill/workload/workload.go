package workload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Write is one attempted order write, as the client saw it.
type Write struct {
	ID     string    `json:"id"`
	Sent   time.Time `json:"sent"`
	Done   time.Time `json:"done"`
	Status int       `json:"status"` // 0: no answer
	Region string    `json:"region,omitempty"`
	Epoch  int64     `json:"epoch,omitempty"`
	// CreatedAt is the service's commit-time stamp of an acknowledged write.
	CreatedAt time.Time `json:"created_at,omitzero"`
	Error     string    `json:"error,omitempty"`
}

// Acked reports whether the service acknowledged the write.
func (w Write) Acked() bool { return w.Status == http.StatusCreated }

// Workload writes orders at a steady rate through one URL, or through
// whichever URL Route names at the time of each write (or, with Do, a
// protected application's items).
type Workload struct {
	URL         string
	Route       func() string
	Rate        int // writes per second, all workers together
	Concurrency int
	RunID       string
	HTTP        *http.Client
	// RegionURL, when set, is where a client sends a write to one region:
	// a write refused with 503 naming another region as active is sent
	// there at once (once), as a client following the answer would.
	RegionURL func(region string) string
	// Do, when set, makes each write instead of a POST of an order (a
	// protected application's item: App.Write).
	Do func(ctx context.Context, id string, n int64) Write

	mu     sync.Mutex
	writes []Write
	seq    atomic.Int64
}

// Run writes until ctx ends. Writes in flight then are finished, not
// abandoned: an abandoned write may have committed without its client
// knowing, which is not what the drill measures.
func (w *Workload) Run(ctx context.Context) {
	jobs := make(chan int64)
	var wg sync.WaitGroup
	for range w.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range jobs {
				w.record(w.one(context.WithoutCancel(ctx), n))
			}
		}()
	}
	interval := time.Second / time.Duration(w.Rate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			close(jobs)
			wg.Wait()
			return
		case <-tick.C:
			select {
			case jobs <- w.seq.Add(1):
			default: // all workers busy: the client is saturated, skip the tick
			}
		}
	}
}

func (w *Workload) one(ctx context.Context, n int64) Write {
	id := w.RunID + "-" + strconv.FormatInt(n, 10)
	if w.Do != nil {
		return w.Do(ctx, id, n)
	}
	body, _ := json.Marshal(map[string]any{"id": id, "customer": "drill", "amount": float64(n%10000) / 100})
	wr := Write{ID: id, Sent: time.Now()}
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	base := w.URL
	if w.Route != nil {
		base = w.Route()
	}
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, strings.TrimSuffix(base, "/")+"/orders", bytes.NewReader(body))
	if err != nil {
		wr.Error = err.Error()
		return wr
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.HTTP.Do(req)
	if err == nil && resp.StatusCode == http.StatusServiceUnavailable && w.RegionURL != nil {
		// A refusal says where the lease is: follow it once. The refused
		// attempt committed nothing, so sending the same id again is safe.
		if active, from := resp.Header.Get("X-Pilotlight-Active-Region"), resp.Header.Get("X-Pilotlight-Region"); active != "" && from != "" && active != from {
			if u := w.RegionURL(active); u != "" {
				if req2, rerr := http.NewRequestWithContext(rctx, http.MethodPost, strings.TrimSuffix(u, "/")+"/orders", bytes.NewReader(body)); rerr == nil {
					req2.Header.Set("Content-Type", "application/json")
					if resp2, err2 := w.HTTP.Do(req2); err2 == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						resp = resp2
					}
				}
			}
		}
	}
	wr.Done = time.Now()
	if err != nil {
		wr.Error = err.Error()
		return wr
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	wr.Status = resp.StatusCode
	if wr.Acked() {
		var o struct {
			Region    string    `json:"region"`
			Epoch     int64     `json:"epoch"`
			CreatedAt time.Time `json:"created_at"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			wr.Error = fmt.Sprintf("acknowledged with an unreadable body: %v", err)
		}
		wr.Region, wr.Epoch, wr.CreatedAt = o.Region, o.Epoch, o.CreatedAt
	} else if len(b) > 0 {
		wr.Error = string(bytes.TrimSpace(b))
		if len(wr.Error) > 200 {
			wr.Error = wr.Error[:200]
		}
	}
	return wr
}

func (w *Workload) record(wr Write) {
	w.mu.Lock()
	w.writes = append(w.writes, wr)
	w.mu.Unlock()
}

// Writes returns a copy of the log so far.
func (w *Workload) Writes() []Write {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Write(nil), w.writes...)
}

// FirstAck returns the first write acknowledged by region at or after t.
func FirstAck(writes []Write, region string, after time.Time) (Write, bool) {
	var best Write
	found := false
	for _, w := range writes {
		if w.Acked() && w.Region == region && !w.Done.Before(after) && (!found || w.Done.Before(best.Done)) {
			best, found = w, true
		}
	}
	return best, found
}
