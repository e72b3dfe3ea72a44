package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/drill/report"
	"github.com/pilotlight/pilotlight/internal/drill/scenario"
	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/lab/remote"
)

// The test binary doubles as pilotlight, so `lab up` can start its
// supervisor (os.Executable) without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("PILOTLIGHT_RUN_MAIN") == "1" {
		main()
		return
	}
	labtest.Main(m) // the fake target's tables live in the shared lab

}

type result struct {
	code     int
	out, err string
}

// envFile is dir's .env, written empty when missing: every test's command
// line names one, so no .env of the developer's is read.
func envFile(dir string) (string, error) {
	env := filepath.Join(dir, ".env")
	if _, err := os.Stat(env); os.IsNotExist(err) {
		if err := os.WriteFile(env, nil, 0o600); err != nil {
			return "", err
		}
	}
	return env, nil
}

func runCLI(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	envPath, err := envFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	environ := append([]string{"PILOTLIGHT_RUN_MAIN=1", "PILOTLIGHT_LAB_DIR=" + filepath.Join(dir, ".lab"), "PILOTLIGHT_PROTECT_DIR=" + filepath.Join(dir, ".pilotlight", "protect"),
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	if c := os.Getenv("PILOTLIGHT_CACHE_DIR"); c != "" {
		environ = append(environ, "PILOTLIGHT_CACHE_DIR="+c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := run(ctx, append([]string{"--env-file", envPath}, args...), streams{In: strings.NewReader(""), Out: &out, Err: &errb}, environ)
	return result{code, out.String(), errb.String()}
}

func TestSettingsErrors(t *testing.T) {
	tests := []struct {
		name   string
		dotenv string
		args   []string
		want   string
	}{
		{"malformed env line", "PILOTLIGHT_PRIMARY_REGION=us-east-1\nPILOTLIGHT_DR_REGION us-west-2\n", []string{"lab", "env"}, ".env:2: no '='"},
		{"same region twice", "", []string{"--primary", "eu-west-1", "--dr", "eu-west-1", "lab", "status"}, "--dr (from flag): same as the primary region eu-west-1 (set by --primary, from flag)"},
		{"unknown region", "PILOTLIGHT_DR_REGION=us-wset-2\n", []string{"lab", "status"}, `unknown region "us-wset-2": did you mean us-west-2?`},
		{"mistyped flag names the flag", "", []string{"--primary", "us-est-1", "lab", "status"}, `--primary (from flag): unknown region "us-est-1": did you mean us-east-1?`},
		{"bad lag", "PILOTLIGHT_REPLICATION_LAG=fast\n", []string{"lab", "status"}, ".env line 1): \"fast\" is not a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(tt.dotenv), 0o600); err != nil {
				t.Fatal(err)
			}
			r := runCLI(t, dir, nil, tt.args...)
			if r.code == 0 || !strings.Contains(r.err, tt.want) {
				t.Fatalf("exit %d, stderr %q; want failure saying %q", r.code, r.err, tt.want)
			}
		})
	}
}

// A shell that exports AWS_DEFAULT_REGION for the AWS CLI (here the DR
// region) must not break pilotlight when PILOTLIGHT_PRIMARY_REGION is set,
// and without it the error must name AWS_DEFAULT_REGION as the culprit;
// lab down works whatever the regions say.
func TestAWSDefaultRegionTrap(t *testing.T) {
	dir := t.TempDir()
	env := []string{"AWS_DEFAULT_REGION=us-west-2"}
	r := runCLI(t, dir, env, "lab", "status")
	if r.code != 2 || !strings.Contains(r.err, "set by AWS_DEFAULT_REGION, from environment, read because PILOTLIGHT_PRIMARY_REGION is not set") {
		t.Fatalf("exit %d, %q; want the error to name AWS_DEFAULT_REGION", r.code, r.err)
	}
	if r := runCLI(t, dir, env, "lab", "down"); r.code != 0 {
		t.Fatalf("lab down with bad regions: exit %d, %q", r.code, r.err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("PILOTLIGHT_PRIMARY_REGION=us-east-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, dir, env, "lab", "status"); strings.Contains(r.err, "AWS_DEFAULT_REGION") || !strings.Contains(r.err, "pilotlight lab up") {
		t.Fatalf("with PILOTLIGHT_PRIMARY_REGION in .env: exit %d, %q; want only 'no lab'", r.code, r.err)
	}
}

// One exit-code scheme: 0 ok, 1 a check failed, 2 could not run; unknown
// subcommands at every level refuse with a suggestion; --json errors are
// JSON.
func TestExitCodesAndUnknownCommands(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"lab", "stauts"}, `did you mean status?`},
		{[]string{"lab", "faults"}, `did you mean fault?`},
		{[]string{"backup", "lst"}, `did you mean list?`},
		{[]string{"backup", "verfy"}, `did you mean verify?`},
		{[]string{"lab", "fault", "cutt"}, `did you mean cut?`},
		{[]string{"lab", "replication", "pase"}, `did you mean pause?`},
		{[]string{"dril"}, `unknown command "dril"`},
		{[]string{"lab", "fault", "cut"}, `needs --region`},
		{[]string{"lab", "fault", "cut", "--region", "us-east-1", "--service", "sqs"}, `use dynamodb, s3, lambda or all`},
		{[]string{"drill", "--no-such-flag"}, `unknown flag`},
	} {
		r := runCLI(t, dir, nil, c.args...)
		if r.code != 2 || !strings.Contains(r.err, c.want) {
			t.Errorf("%v: exit %d, %q; want exit 2 saying %q", c.args, r.code, r.err, c.want)
		}
	}
	if r := runCLI(t, dir, nil, "lab"); r.code != 0 || !strings.Contains(r.out, "Available Commands") {
		t.Errorf("lab alone: exit %d; want its help", r.code)
	}
	r := runCLI(t, dir, nil, "lab", "status", "--json")
	var e struct {
		Error    string `json:"error"`
		ExitCode int    `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(r.out), &e); err != nil || r.code != e.ExitCode || e.ExitCode == 0 || !strings.Contains(e.Error, "lab up") {
		t.Errorf("--json error: exit %d, stdout %q (%v); want {error, exit_code}", r.code, r.out, err)
	}
}

func TestUnknownSettingsAreWarnedAbout(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("PILOTLIGHT_REPLICATON_LAG=1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, dir, []string{"PILOTLIGHT_WITNES_REGION=none"}, "lab", "status")
	for _, want := range []string{"warning: PILOTLIGHT_REPLICATON_LAG (in " + filepath.Join(dir, ".env") + " line 1) is not a pilotlight setting and is ignored: did you mean PILOTLIGHT_REPLICATION_LAG?",
		"warning: PILOTLIGHT_WITNES_REGION (in the environment)", "did you mean PILOTLIGHT_WITNESS_REGION?"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr %q lacks %q", r.err, want)
		}
	}
}

func TestLabCommandsWithoutLab(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"lab", "status"}, {"lab", "env"}, {"lab", "fault", "restore"}, {"check"}} {
		r := runCLI(t, dir, nil, args...)
		if r.code == 0 || !strings.Contains(r.err, "pilotlight lab up") {
			t.Errorf("%v: exit %d, stderr %q; want a hint to run lab up", args, r.code, r.err)
		}
	}
	if r := runCLI(t, dir, nil, "lab", "down"); r.code != 0 || !strings.Contains(r.err, "no lab running") {
		t.Errorf("lab down without a lab: exit %d, %q", r.code, r.err)
	}
}

// requireServers skips when the lab's servers are not installed, except in
// CI, where a missing server is a failure.
func requireServers(t *testing.T) { labtest.Servers(t) }

func TestLabLifecycle(t *testing.T) {
	requireServers(t)
	dir := t.TempDir()
	labDir := filepath.Join(dir, ".lab")
	t.Cleanup(func() { remote.Stop(labDir) })

	r := runCLI(t, dir, nil, "lab", "up")
	if r.code != 0 || !strings.Contains(r.out, "us-east-1  primary") || !strings.Contains(r.out, "us-west-2  dr") {
		t.Fatalf("lab up: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	st, err := remote.ReadState(labDir)
	if err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, dir, nil, "lab", "up"); r.code != 0 || !strings.Contains(r.err, "already running (pid "+strconv.Itoa(st.Pid)) {
		t.Fatalf("second lab up: exit %d, %q", r.code, r.err)
	}

	if r := runCLI(t, dir, nil, "lab", "fault", "cut", "--region", "us-east-1", "--service", "s3"); r.code != 0 {
		t.Fatalf("fault cut: %s", r.err)
	}
	r = runCLI(t, dir, nil, "lab", "status", "--json")
	var status lab.Status
	if err := json.Unmarshal([]byte(r.out), &status); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r.out)
	}
	if len(status.Regions) != 2 || len(status.Regions[0].Faults) != 1 || status.Regions[0].Faults[0].Service != "s3" || len(status.Regions[1].Faults) != 0 {
		t.Errorf("status after cutting us-east-1 s3: %+v", status.Regions)
	}
	r = runCLI(t, dir, nil, "lab", "status")
	if !strings.Contains(r.out, "s3:cut") || !strings.Contains(r.out, "table        us-east-1 → us-west-2") {
		t.Errorf("status table:\n%s", r.out)
	}
	if r := runCLI(t, dir, nil, "lab", "fault", "restore"); r.code != 0 {
		t.Fatalf("restore: %s", r.err)
	}
	if r := runCLI(t, dir, nil, "lab", "replication", "pause"); r.code != 0 {
		t.Fatalf("pause: %s", r.err)
	}
	r = runCLI(t, dir, nil, "lab", "status")
	if !strings.Contains(r.out, "PAUSED") {
		t.Errorf("status after pause:\n%s", r.out)
	}

	checkDashboard(t, dir)

	r = runCLI(t, dir, nil, "lab", "env", "--region", "us-west-2")
	if want := "export AWS_ENDPOINT_URL_DYNAMODB=" + st.Regions["us-west-2"].Endpoints.DynamoDB; !strings.Contains(r.out, want) || !strings.Contains(r.out, "AWS_REGION=us-west-2") || strings.Contains(r.out, "AWS_DEFAULT_REGION") {
		t.Errorf("lab env --region us-west-2:\n%s\nwant %s", r.out, want)
	}

	// A crashed supervisor takes its servers along (Pdeathsig); status
	// says so, and lab up cleans up and starts afresh.
	if err := syscall.Kill(st.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for st.Alive() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if r := runCLI(t, dir, nil, "lab", "status"); r.code == 0 || !strings.Contains(r.err, "crashed or was killed") {
		t.Errorf("status of a crashed lab: exit %d, %q", r.code, r.err)
	}
	if r := runCLI(t, dir, nil, "lab", "up"); r.code != 0 || !strings.Contains(r.err, "cleaned up a lab left behind") {
		t.Fatalf("lab up after crash: exit %d, %q", r.code, r.err)
	}
	st2, err := remote.ReadState(labDir)
	if err != nil || st2.Pid == st.Pid {
		t.Fatalf("new lab state: %+v %v", st2, err)
	}
	if r := runCLI(t, dir, nil, "lab", "down"); r.code != 0 {
		t.Fatalf("lab down: %s", r.err)
	}
	for name, p := range map[string]int{"supervisor": st2.Pid, "dynamodb": st2.Regions["us-east-1"].Pids["dynamodb"], "s3": st2.Regions["us-west-2"].Pids["s3"]} {
		if err := syscall.Kill(p, 0); err == nil && !isZombie(p) {
			t.Errorf("%s (pid %d) still runs after lab down", name, p)
		}
	}
	if _, err := os.Stat(filepath.Join(labDir, "state.json")); !os.IsNotExist(err) {
		t.Errorf("state.json remains after lab down: %v", err)
	}
}

// checkDashboard serves `pilotlight dashboard` on a free port against the
// running lab and reads one snapshot: the page shows what status shows.
func checkDashboard(t *testing.T, dir string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int, 1)
	environ := []string{"PILOTLIGHT_RUN_MAIN=1", "PILOTLIGHT_LAB_DIR=" + filepath.Join(dir, ".lab"), "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	go func() {
		done <- run(ctx, []string{"--env-file", filepath.Join(dir, ".env"), "dashboard", "--addr", "127.0.0.1:0"}, streams{In: strings.NewReader(""), Out: out, Err: out}, environ)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("dashboard exited %d after Ctrl-C:\n%s", code, out.String())
		}
	}()
	var url string
	deadline := time.Now().Add(20 * time.Second)
	for url == "" && time.Now().Before(deadline) {
		if _, rest, ok := strings.Cut(out.String(), "dashboard: "); ok {
			url, _, _ = strings.Cut(rest, " ")
		} else {
			time.Sleep(20 * time.Millisecond) // polling for the address the command prints
		}
	}
	if url == "" {
		t.Fatalf("dashboard printed no address:\n%s", out.String())
	}
	resp, err := http.Get(url + "api/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var snap struct {
		Status struct {
			Active  string `json:"active_region"`
			Regions []struct {
				Region  string          `json:"region"`
				Servers map[string]bool `json:"servers"`
			} `json:"regions"`
		} `json:"status"`
		StatusError string `json:"status_error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		t.Fatal(err)
	}
	if snap.Status.Active != "us-east-1" || len(snap.Status.Regions) < 2 || !snap.Status.Regions[0].Servers["dynamodb"] {
		t.Errorf("dashboard snapshot: %+v (error %q)", snap.Status, snap.StatusError)
	}
	page, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	if page.StatusCode != 200 || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") {
		t.Errorf("page: %s %s", page.Status, page.Header.Get("Content-Type"))
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] == "Z"
}

func TestLabPortInUse(t *testing.T) {
	requireServers(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	r := runCLI(t, dir, []string{"PILOTLIGHT_LAB_BASE_PORT=" + strconv.Itoa(port)}, "lab", "up", "--foreground")
	if r.code == 0 || !strings.Contains(r.err, "port "+strconv.Itoa(port)+" on 127.0.0.1 is in use") {
		t.Fatalf("exit %d, stderr %q; want the port named", r.code, r.err)
	}
}

func TestHistoryAndReport(t *testing.T) {
	dir := t.TempDir()
	reports := filepath.Join(dir, "reports")
	env := []string{"PILOTLIGHT_REPORTS_DIR=" + reports}
	r := runCLI(t, dir, env, "history")
	if r.code != 0 || !strings.Contains(r.out, "no drills in "+reports) || !strings.Contains(r.err, "control journal was not read") {
		t.Fatalf("empty history: exit %d\n%s%s", r.code, r.out, r.err)
	}
	rep := &report.Report{Scenario: scenario.RegionOutage, Target: "lab", Primary: "us-east-1", DR: "us-west-2", Started: time.Now().UTC(), Pass: true,
		Failover: &report.FailoverReport{RTOSeconds: 3.25}, RPO: &report.RPO{Missing: 7}}
	saved, err := report.History{Dir: reports}.Save(rep)
	if err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, dir, env, "history")
	if r.code != 0 || !strings.Contains(r.out, saved.ID) || !strings.Contains(r.out, "PASS") || !strings.Contains(r.out, "3.25s") || !strings.Contains(r.out, "7 writes") {
		t.Fatalf("history: exit %d\n%s%s", r.code, r.out, r.err)
	}
	r = runCLI(t, dir, env, "history", "--json")
	var h struct {
		Entries []report.Entry `json:"entries"`
	}
	if err := json.Unmarshal([]byte(r.out), &h); err != nil || len(h.Entries) != 1 || h.Entries[0].ID != saved.ID {
		t.Fatalf("history --json: %v\n%s", err, r.out)
	}
	if r := runCLI(t, dir, env, "report"); r.code != 0 || !strings.Contains(r.out, "RTO") || !strings.Contains(r.out, saved.HTML) {
		t.Fatalf("report (latest): exit %d\n%s%s", r.code, r.out, r.err)
	}
	if r := runCLI(t, dir, env, "report", "no-such-report"); r.code != 2 || !strings.Contains(r.err, "pilotlight history") {
		t.Fatalf("report of an unknown ID: exit %d %q", r.code, r.err)
	}
	if r := runCLI(t, dir, nil, "version", "--json"); r.code != 0 || !strings.Contains(r.out, `"version"`) {
		t.Fatalf("version --json: %q", r.out)
	}
}

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/<name>.golden (-update rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update once to write it)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs from %s:\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

// The history table, exactly: a passing drill, a failing one and an
// unreadable report, oldest first.
func TestHistoryGolden(t *testing.T) {
	dir := t.TempDir()
	reports := filepath.Join(dir, "reports")
	h := report.History{Dir: reports}
	t0 := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	for _, r := range []*report.Report{
		{Scenario: scenario.RegionOutage, Target: "lab", Started: t0, Pass: true, Failover: &report.FailoverReport{RTOSeconds: 3.24},
			RPO: &report.RPO{Missing: 7}, Failback: &report.FailbackReport{Lost: 0}},
		{Scenario: scenario.DROutage, Target: "lab", Started: t0.Add(time.Hour), Failures: []string{"a new epoch began while only us-west-2 was cut"}},
	} {
		if _, err := h.Save(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(reports, "20261127T120000Z-no-fault"), 0o755); err != nil {
		t.Fatal(err)
	}
	// TZ in the command's environment, not time.Local: other tests'
	// servers may still be calling time.Now.
	r := runCLI(t, dir, []string{"PILOTLIGHT_REPORTS_DIR=" + reports, "TZ=UTC"}, "history")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	golden(t, "history", r.out)
}
