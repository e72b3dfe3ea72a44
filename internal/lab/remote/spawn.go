package remote

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Spawn describes the supervisor process to start: a program (the
// pilotlight binary) whose Args make it run Serve with its state in Dir.
type Spawn struct {
	Program string
	Args    []string
	Env     []string
	Dir     string // the lab directory: the state file and logs/supervisor.log
	// Progress hears "starting lab", a dot a tick, and the time it took.
	Progress io.Writer
	// Timeout bounds the wait for the state file (0: 90 s).
	Timeout time.Duration
}

// Start starts the supervisor detached from this process's terminal (its
// own session; output to Dir/logs/supervisor.log) and waits until it has
// written its state. A supervisor that exits first is reported with the
// end of its log.
func (sp Spawn) Start(ctx context.Context) (State, error) {
	if err := os.MkdirAll(filepath.Join(sp.Dir, "logs"), 0o700); err != nil {
		return State{}, err
	}
	logPath := filepath.Join(sp.Dir, "logs", "supervisor.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return State{}, err
	}
	defer logf.Close()
	progress := sp.Progress
	if progress == nil {
		progress = io.Discard
	}
	timeout := sp.Timeout
	if timeout == 0 {
		timeout = 90 * time.Second
	}
	cmd := exec.Command(sp.Program, sp.Args...)
	cmd.Env = sp.Env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return State{}, fmt.Errorf("start lab supervisor: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fmt.Fprint(progress, "starting lab")
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for {
		select {
		case err := <-exited:
			fmt.Fprintln(progress)
			b, _ := os.ReadFile(logPath)
			return State{}, fmt.Errorf("lab failed to start (%v): %s", err, lastLines(string(b), 5))
		case <-deadline:
			_ = cmd.Process.Kill()
			fmt.Fprintln(progress)
			return State{}, fmt.Errorf("lab not ready after %s; see %s", timeout, logPath)
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return State{}, ctx.Err()
		case <-tick.C:
			st, err := ReadState(sp.Dir)
			if err == nil && st.Pid == cmd.Process.Pid {
				fmt.Fprintf(progress, " ready in %.1fs\n", time.Since(start).Seconds())
				_ = cmd.Process.Release()
				return st, nil
			}
			fmt.Fprint(progress, ".")
		}
	}
}

// lastLines is the end of a log, for an error message.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
