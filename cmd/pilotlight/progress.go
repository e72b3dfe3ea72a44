package main

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows long work (a validation, a backup, a restore) on a
// terminal: a spinner with the elapsed time and the latest news. It is
// silent in CI (CI=true), under --json, and when stderr is not a terminal
// (a cron job's log gets the result, not a spinner).
type progress struct {
	mu   sync.Mutex
	bar  *progressbar.ProgressBar
	stop chan struct{}
	done sync.WaitGroup
}

func startProgress(g *globals, jsonOut bool, desc string) *progress {
	p := &progress{}
	if jsonOut || !isTerminal(g.io.Err) || slices.Contains(g.environ, "CI=true") {
		return p
	}
	p.bar = progressbar.NewOptions(-1,
		progressbar.OptionSetWriter(g.io.Err),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(100*time.Millisecond),
	)
	p.stop = make(chan struct{})
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.mu.Lock()
				_ = p.bar.Add(1)
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// Say replaces the spinner's text (a backup's "snapshot …: 120000 items
// read").
func (p *progress) Say(format string, args ...any) {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	p.bar.Describe(fmt.Sprintf(format, args...))
	p.mu.Unlock()
}

// Done clears the spinner.
func (p *progress) Done() {
	if p.bar == nil {
		return
	}
	close(p.stop)
	p.done.Wait()
	_ = p.bar.Finish()
}
