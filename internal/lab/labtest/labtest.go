// Package labtest shares one running lab among the tests of a package, so
// tests run against real DynamoDB Local and versitygw without paying for a
// lab each. Use Main from TestMain and Lab from each test.
package labtest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/lab/server"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

var (
	once   sync.Once
	shared *lab.Lab
	err    error
	dir    string
)

// Servers returns the cached servers. It skips the test when they are
// missing, except in CI (CI=true), where that is a failure.
func Servers(t testing.TB) server.Paths {
	t.Helper()
	s, err := server.Find(server.DefaultCacheDir())
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("lab servers missing in CI: %v", err), fmt.Sprintf("lab servers missing: %v", err))
	}
	return s
}

// Functions builds the function bootstraps the way `make build` does, into
// a temporary directory, and returns it (lab.FunctionOptions.Dir).
func Functions(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(moduleRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, fn := range lab.FunctionNames {
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", filepath.Join(dir, fn, "bootstrap"), "./lambda/"+fn)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", fn, err, out)
		}
	}
	return dir
}

// moduleRoot is the directory of go.mod above the test's working directory.
func moduleRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// Lab returns the package's shared lab (us-east-1 primary, us-west-2 DR,
// replication lag 0), starting it on first use. Faults, pause and lag are
// reset when the test ends.
func Lab(t testing.TB) *lab.Lab {
	t.Helper()
	sv := Servers(t)
	once.Do(func() {
		dir, err = os.MkdirTemp("", "pilotlight-labtest-")
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		shared, err = lab.Start(ctx, lab.Options{Primary: "us-east-1", DR: "us-west-2", Dir: dir, Servers: sv, Logger: slog.New(slog.DiscardHandler)})
	})
	if err != nil {
		t.Fatalf("start lab: %v", err)
	}
	t.Cleanup(func() {
		_ = shared.Restore("")
		shared.SetPaused(false)
		_ = shared.SetLag(0)
	})
	return shared
}

// Main runs the tests and stops the shared lab.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}
