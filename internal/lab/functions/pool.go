package functions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/internal/lab/server"
)

// Spec is one function in one region.
type Spec struct {
	Region, Name string
	// N instances run at once: the function's concurrency.
	N int
	// Env is each instance's whole environment.
	Env []string
	// Dir holds the function's bootstrap; RIE is the emulator's binary.
	Dir, RIE string
	// LogPath names an instance's log file.
	LogPath func(i int) string
	// Line, when set, receives every line the function writes to stdout
	// (its log: EMF metrics feed the lab's alarm, as CloudWatch Logs do).
	Line func(line string)
	Log  *slog.Logger
}

// Pool is one function's instances in one region. An emulator serves one
// invocation at a time (and crashes on a second): an instance is taken
// from the pool for an invocation and goes back when it is over.
type Pool struct {
	spec Spec
	free chan *server.Process

	mu     sync.Mutex
	all    []*server.Process
	closed bool
}

// Start starts spec.N instances at once and waits until each answers.
func Start(ctx context.Context, spec Spec) (*Pool, error) {
	p := &Pool{spec: spec, free: make(chan *server.Process, spec.N)}
	var wg sync.WaitGroup
	var errs []error
	for i := 0; i < spec.N; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := p.start(ctx, i)
			p.mu.Lock()
			defer p.mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			p.all = append(p.all, s)
			p.free <- s
		}()
	}
	wg.Wait()
	return p, errors.Join(errs...)
}

func (p *Pool) start(ctx context.Context, i int) (*server.Process, error) {
	return server.RetryPorts(func() (*server.Process, error) {
		port, err := server.FreePort()
		if err != nil {
			return nil, err
		}
		apiPort, err := server.FreePort()
		if err != nil {
			return nil, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		var out io.Writer
		if p.spec.Line != nil {
			out = &lineWriter{fn: p.spec.Line}
		}
		return server.StartProcess(ctx, "function "+p.spec.Name+" "+p.spec.Region, p.spec.LogPath(i), p.spec.Dir, addr, p.spec.Env, out,
			p.spec.RIE, "--log-level", "error", "--runtime-interface-emulator-address", addr,
			"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(apiPort), filepath.Join(p.spec.Dir, "bootstrap"))
	})
}

// Error is an error a function returned (not a transport failure).
type Error struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// invokeClient outlasts the longest function timeout: the emulator ends
// an invocation that runs past its function's.
var invokeClient = &http.Client{Timeout: 905 * time.Second}

// Invoke runs one invocation on a free instance, waiting for one. A
// function's own error comes back as an *Error, with its response.
func (p *Pool) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var s *server.Process
	select {
	case s = <-p.free:
	case <-ctx.Done():
		return nil, fmt.Errorf("invoke %s in %s: no free instance: %w", p.spec.Name, p.spec.Region, ctx.Err())
	}
	// The instance goes back to the pool only when its invocation is
	// over, even if the caller stops waiting, and is replaced if it died.
	type result struct {
		body []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		body, err := invokeOnce(s.Addr(), payload)
		done <- result{body, err}
		p.release(s)
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("invoke %s in %s: %w", p.spec.Name, p.spec.Region, ctx.Err())
	}
	if res.err != nil {
		return nil, fmt.Errorf("invoke %s in %s: %w", p.spec.Name, p.spec.Region, res.err)
	}
	body := res.body
	var fe Error
	if len(body) > 0 && body[0] == '{' && json.Unmarshal(body, &fe) == nil && fe.Type != "" {
		return body, &fe
	}
	return body, nil
}

func invokeOnce(addr string, payload []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	resp, err := invokeClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, body)
	}
	return body, nil
}

// release returns an instance to the pool, replacing it first if it died.
func (p *Pool) release(s *server.Process) {
	exited, exitErr := s.Exited()
	if !exited {
		p.free <- s
		return
	}
	p.mu.Lock()
	closed, i := p.closed, len(p.all)
	p.mu.Unlock()
	if closed {
		return
	}
	p.spec.Log.Warn("function instance died; starting a new one", "region", p.spec.Region, "function", p.spec.Name, "err", exitErr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ns, err := p.start(ctx, i)
	if err != nil {
		p.spec.Log.Error("restart function instance", "region", p.spec.Region, "function", p.spec.Name, "err", err)
		return
	}
	p.mu.Lock()
	p.all = append(p.all, ns)
	p.mu.Unlock()
	p.free <- ns
}

// Kill ends every instance at once, as a crash would; each is replaced
// when its invocation returns.
func (p *Pool) Kill() {
	p.mu.Lock()
	all := append([]*server.Process(nil), p.all...)
	p.mu.Unlock()
	for _, s := range all {
		s.Kill()
	}
}

// Stop ends every instance; none is replaced.
func (p *Pool) Stop() {
	p.mu.Lock()
	p.closed = true
	all := append([]*server.Process(nil), p.all...)
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Add(1)
		go func() { defer wg.Done(); s.Stop() }()
	}
	wg.Wait()
}

// lineWriter calls fn with each complete line written to it.
type lineWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
	fn  func(string)
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := string(w.buf.Next(i + 1))
		w.fn(strings.TrimRight(line, "\r\n"))
	}
	return len(b), nil
}
