package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is one child process the lab started.
type Process struct {
	name string
	cmd  *exec.Cmd
	addr string // 127.0.0.1:port it listens on
	done chan struct{}
	err  error // exit status, valid after done is closed
}

// Start starts a child that dies with the lab (Pdeathsig), logging to
// logPath, and waits until addr accepts connections.
func Start(ctx context.Context, name, logPath, dir, addr string, argv ...string) (*Process, error) {
	return StartProcess(ctx, name, logPath, dir, addr, os.Environ(), nil, argv...)
}

// StartProcess is Start with an environment and an optional extra
// writer that also receives the child's stdout (function logs).
func StartProcess(ctx context.Context, name, logPath, dir, addr string, env []string, stdout io.Writer, argv ...string) (*Process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout = logf
	if stdout != nil {
		cmd.Stdout = io.MultiWriter(logf, stdout)
	}
	cmd.Stderr = logf
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &Process{name: name, cmd: cmd, addr: addr, done: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	deadline := time.Now().Add(90 * time.Second)
	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			// Another process may have taken the port between our choosing
			// it and the child binding it: only the child's listener counts.
			if ownsListener(cmd.Process.Pid, port) {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, &startError{name: name, addr: addr, err: s.err, log: logPath, tail: tail(logPath)}
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("%s did not listen on %s within 90s; see %s", name, addr, logPath)
		}
	}
}

// startError is a child that exited before listening. PortTaken says
// whether it lost its port to another process, so a retry on another port
// may succeed.
type startError struct {
	name, addr, log, tail string
	err                   error
}

func (e *startError) Error() string {
	return fmt.Sprintf("%s exited before listening on %s (%v); see %s: %s", e.name, e.addr, e.err, e.log, e.tail)
}

func (e *startError) PortTaken() bool {
	return strings.Contains(e.tail, "already in use") || strings.Contains(e.tail, "BindException")
}

// RetryPorts runs start up to three times while it fails because its port
// was taken by another process.
func RetryPorts(start func() (*Process, error)) (*Process, error) {
	for attempt := 1; ; attempt++ {
		s, err := start()
		var se *startError
		if err == nil || attempt == 3 || !errors.As(err, &se) || !se.PortTaken() {
			return s, err
		}
	}
}

// ownsListener reports whether pid holds the listening TCP socket on port
// (127.0.0.1 or any address), from /proc/net/tcp{,6} and /proc/<pid>/fd.
func ownsListener(pid, port int) bool {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 10 || fields[3] != "0A" {
				continue
			}
			i := strings.LastIndexByte(fields[1], ':')
			if p, err := strconv.ParseInt(fields[1][i+1:], 16, 32); err == nil && int(p) == port {
				inodes[fields[9]] = true
			}
		}
	}
	if len(inodes) == 0 {
		return false
	}
	fds, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	if err != nil {
		return false
	}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") && inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
			return true
		}
	}
	return false
}

// Stop terminates the process and waits for it.
func (s *Process) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Pid is the process's ID.
func (s *Process) Pid() int { return s.cmd.Process.Pid }

// Kill ends the process at once (a crash, for the lab's faults).
func (s *Process) Kill() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
}

// Exited reports whether the process has ended, and how.
func (s *Process) Exited() (bool, error) {
	select {
	case <-s.done:
		return true, s.err
	default:
		return false, nil
	}
}

// Answers reports whether the server answers an HTTP request at its
// address within half a second (any status will do): a loaded server
// must not make the lab's status slow.
func (s *Process) Answers(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+"/", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// Addr is the 127.0.0.1:port the process listens on.
func (s *Process) Addr() string { return s.addr }

var (
	portsMu sync.Mutex
	ports   = map[int]bool{} // handed out by FreePort in this process
)

// FreePort asks the kernel for an unused port on 127.0.0.1 that this process
// has not handed out before. The port is free when returned but not held, so
// a port given to one server is never given to another one starting at the
// same time (the kernel may offer a just-released port again).
func FreePort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		held = append(held, l)
		p := l.Addr().(*net.TCPAddr).Port
		if !ports[p] {
			ports[p] = true
			return p, nil
		}
	}
	return 0, errors.New("no unused port found on 127.0.0.1")
}

// PortInUseError names a configured port that another process holds.
type PortInUseError struct{ Port int }

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %d on 127.0.0.1 is in use: stop whatever holds it (ss -ltnp 'sport = :%d') or set PILOTLIGHT_LAB_BASE_PORT=0 for free ports", e.Port, e.Port)
}

// CheckPortFree fails with a PortInUseError when port is taken.
func CheckPortFree(port int) error {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return &PortInUseError{port}
	}
	return l.Close()
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 400 {
		s = "…" + s[len(s)-400:]
	}
	return s
}

// Alive reports whether pid runs and its command line contains want,
// so a recycled pid is never mistaken for one of ours.
func Alive(pid int, want string) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return false
	}
	if stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")); err == nil {
		// A zombie has exited; only its parent's wait is missing.
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return false
		}
	}
	return strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), want)
}

// Kill stops pid (and its process group) if it is still ours.
func Kill(pid int, want string, grace time.Duration) error {
	if !Alive(pid, want) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !Alive(pid, want) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return nil
}
