// Package dashboard owns `pilotlight dashboard`: a local web page that shows
// both regions side by side (control record, lease, whether each accepts
// writes, routing, the servers behind it), replication lag and backlog,
// the failover journal as it happens, the last drill's chart and the
// drill history. The page is one self-contained document (no external
// scripts, styles or fonts); it follows the server over server-sent
// events, so a failover shows within one refresh interval.
//
// The server only presents: what it shows comes from a Source, which the
// command wires to the lab or to AWS.
package dashboard

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/drill/report"
)

// Source is where the page's figures come from.
type Source interface {
	// Status is the document `pilotlight status --json` prints.
	Status(ctx context.Context) (json.RawMessage, error)
	// Journal returns every failover run's journal, by epoch.
	Journal(ctx context.Context) (map[int64][]record.Entry, error)
	// History lists kept drill reports, oldest first.
	History() ([]report.Entry, error)
	// LastReport is the newest kept drill report (nil when none).
	LastReport() (*report.Report, error)
}

// Snapshot is one refresh of the page: everything it shows but the chart.
type Snapshot struct {
	At           time.Time       `json:"at"`
	Status       json.RawMessage `json:"status,omitempty"`
	StatusError  string          `json:"status_error,omitempty"`
	Journal      []record.Entry  `json:"journal"`
	JournalError string          `json:"journal_error,omitempty"`
	History      []report.Entry  `json:"history"`
	HistoryError string          `json:"history_error,omitempty"`
	// Plot names the last drill whose chart /plot.svg serves ("" when none).
	Plot string `json:"plot,omitempty"`
}

// Server serves the page.
type Server struct {
	Source Source
	// Every is how often the server reads the source (default 1 s).
	Every time.Duration

	mu      sync.Mutex
	last    []byte // the newest snapshot, as sent
	subs    map[chan []byte]struct{}
	started bool
}

// Handler returns the page's routes: / (the page), /api/snapshot (JSON),
// /api/events (server-sent events, one "snapshot" event per change) and
// /plot.svg (the last drill's chart).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self'")
		_, _ = w.Write(pageHTML)
	})
	mux.HandleFunc("GET /api/snapshot", func(w http.ResponseWriter, r *http.Request) {
		b := s.snapshot(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
	mux.HandleFunc("GET /api/events", s.events)
	mux.HandleFunc("GET /plot.svg", func(w http.ResponseWriter, r *http.Request) {
		rep, err := s.Source.LastReport()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if rep == nil {
			http.Error(w, "no drill has run yet: run `pilotlight drill`", http.StatusNotFound)
			return
		}
		var b bytes.Buffer
		if err := report.WritePlot(&b, rep); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b.Bytes())
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return mux
}

// Serve listens on addr (127.0.0.1:0 picks a free port), calls ready with
// the page's URL, and serves until ctx ends.
func (s *Server) Serve(ctx context.Context, addr string, ready func(url string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("dashboard: listen on %s: %w (pick another with --addr)", addr, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.Start(ctx)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if ready != nil {
		ready("http://" + ln.Addr().String() + "/")
	}
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *Server) every() time.Duration {
	if s.Every > 0 {
		return s.Every
	}
	return time.Second
}

// Start reads the source every interval until ctx ends and sends each
// changed snapshot to every open page. Serve calls it; a caller that
// mounts Handler elsewhere calls it once.
func (s *Server) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.started = true
		go s.poll(ctx)
	}
}

func (s *Server) poll(ctx context.Context) {
	t := time.NewTicker(s.every())
	defer t.Stop()
	for {
		b := s.read(ctx)
		s.mu.Lock()
		changed := !bytes.Equal(withoutTime(b), withoutTime(s.last))
		s.last = b
		if changed {
			for c := range s.subs {
				select {
				case c <- b:
				default: // a slow page gets the next one
				}
			}
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// withoutTime drops the snapshot's own time, so an unchanged state is not
// sent again.
func withoutTime(b []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return b
	}
	delete(m, "at")
	out, _ := json.Marshal(m)
	return out
}

// snapshot returns the newest snapshot, reading the source when none was
// read yet.
func (s *Server) snapshot(ctx context.Context) []byte {
	s.mu.Lock()
	b := s.last
	s.mu.Unlock()
	if b == nil {
		b = s.read(ctx)
	}
	return b
}

func (s *Server) read(ctx context.Context) []byte {
	ctx, cancel := context.WithTimeout(ctx, max(2*s.every(), 5*time.Second))
	defer cancel()
	snap := Snapshot{At: time.Now().UTC(), Journal: []record.Entry{}, History: []report.Entry{}}
	if st, err := s.Source.Status(ctx); err != nil {
		snap.StatusError = err.Error()
	} else {
		snap.Status = st
	}
	if runs, err := s.Source.Journal(ctx); err != nil {
		snap.JournalError = err.Error()
	} else {
		for _, es := range runs {
			for _, e := range es {
				snap.Journal = append(snap.Journal, e)
			}
		}
		sort.SliceStable(snap.Journal, func(i, j int) bool {
			a, b := snap.Journal[i], snap.Journal[j]
			if !a.At.Equal(b.At) {
				return a.At.After(b.At)
			}
			return a.Epoch > b.Epoch
		})
	}
	if h, err := s.Source.History(); err != nil {
		snap.HistoryError = err.Error()
	} else if h != nil {
		snap.History = h
		for i := len(h) - 1; i >= 0; i-- {
			if h[i].Kind == "drill" || h[i].Kind == "" {
				snap.Plot = h[i].ID
				break
			}
		}
	}
	b, err := json.Marshal(snap)
	if err != nil {
		b, _ = json.Marshal(Snapshot{At: snap.At, StatusError: err.Error()})
	}
	return b
}

// events streams snapshots to one page: the newest at once, then each
// change, with a comment every 15 s so proxies keep the stream open.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	c := make(chan []byte, 1)
	s.mu.Lock()
	if s.subs == nil {
		s.subs = map[chan []byte]struct{}{}
	}
	s.subs[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, c)
		s.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	send := func(b []byte) bool {
		if _, err := fmt.Fprintf(w, "event: snapshot\ndata: %s\n\n", b); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	if !send(s.snapshot(r.Context())) {
		return
	}
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case b := <-c:
			if !send(b) {
				return
			}
		case <-keep.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

//go:embed page.html
var pageHTML []byte
