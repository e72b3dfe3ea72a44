package config

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestLoadPrecedence(t *testing.T) {
	src := Sources{
		Flags:   map[string]string{"PILOTLIGHT_PRIMARY_REGION": "eu-west-1"},
		Environ: []string{"PILOTLIGHT_PRIMARY_REGION=us-east-2", "PILOTLIGHT_DR_REGION=eu-central-1", "PILOTLIGHT_REPLICATION_LAG="},
		Dotenv:  map[string]string{"PILOTLIGHT_DR_REGION": "ap-south-1", "PILOTLIGHT_REPLICATION_LAG": "250ms", "PILOTLIGHT_CACHE_DIR": "~/c"},
		Home:    "/home/u",
	}
	s, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	if s.PrimaryRegion != "eu-west-1" {
		t.Errorf("flag should win: primary = %s", s.PrimaryRegion)
	}
	if s.DRRegion != "eu-central-1" {
		t.Errorf("environment should beat .env: dr = %s", s.DRRegion)
	}
	if s.ReplicationLag != 250*time.Millisecond {
		t.Errorf("empty environment value should not hide .env: lag = %s", s.ReplicationLag)
	}
	if s.CacheDir != "/home/u/c" {
		t.Errorf("cache dir = %s, want ~ expanded", s.CacheDir)
	}
	if s.Target != TargetLab || s.AppName != "pilotlight" || s.WitnessRegion != "us-east-2" {
		t.Errorf("defaults not applied: %+v", s)
	}
}

// AWS_DEFAULT_REGION is only a fallback: a shell that exports it for the
// AWS CLI must not move pilotlight's primary region once
// PILOTLIGHT_PRIMARY_REGION is set anywhere (.env included).
func TestAWSDefaultRegionIsOnlyAFallback(t *testing.T) {
	s, err := Load(Sources{Environ: []string{"AWS_DEFAULT_REGION=us-west-2"}, Dotenv: map[string]string{"PILOTLIGHT_PRIMARY_REGION": "us-east-1"}})
	if err != nil || s.PrimaryRegion != "us-east-1" {
		t.Fatalf("primary = %s, %v; want us-east-1 from .env", s.PrimaryRegion, err)
	}
	s, err = Load(Sources{Environ: []string{"AWS_DEFAULT_REGION=eu-west-1"}})
	if err != nil || s.PrimaryRegion != "eu-west-1" {
		t.Fatalf("primary = %s, %v; want the fallback eu-west-1", s.PrimaryRegion, err)
	}
	// The trap of the old name: AWS_DEFAULT_REGION equal to the DR region.
	_, err = Load(Sources{Environ: []string{"AWS_DEFAULT_REGION=us-west-2"}})
	var fe *FieldError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "AWS_DEFAULT_REGION") || !strings.Contains(err.Error(), "PILOTLIGHT_PRIMARY_REGION is not set") {
		t.Fatalf("error %v; want it to name AWS_DEFAULT_REGION as the source, read as a fallback", err)
	}
}

func TestErrorsNameTheRealSource(t *testing.T) {
	cases := []struct {
		name string
		src  Sources
		want []string
	}{
		{"flag", Sources{Flags: map[string]string{"PILOTLIGHT_PRIMARY_REGION": "us-est-1"}, FlagNames: map[string]string{"PILOTLIGHT_PRIMARY_REGION": "--primary"}},
			[]string{"--primary (from flag)", "did you mean us-east-1"}},
		{"environment", Sources{Environ: []string{"PILOTLIGHT_DR_REGION=mars-1"}}, []string{"PILOTLIGHT_DR_REGION (from environment)"}},
		{".env line", Sources{Dotenv: map[string]string{"PILOTLIGHT_REPLICATION_LAG": "soon"}, DotenvFile: "prod.env", DotenvLines: map[string]int{"PILOTLIGHT_REPLICATION_LAG": 7}},
			[]string{"PILOTLIGHT_REPLICATION_LAG (from prod.env line 7)"}},
		{"legacy name", Sources{Environ: []string{"AWS_DR_REGION=us-east-1"}}, []string{"AWS_DR_REGION (from environment, read because PILOTLIGHT_DR_REGION is not set)", "different region"}},
		{"witness", Sources{Flags: map[string]string{"PILOTLIGHT_WITNESS_REGION": "us-west-2"}, FlagNames: map[string]string{"PILOTLIGHT_WITNESS_REGION": "--witness"}},
			[]string{"--witness (from flag)", "third region", "us-east-2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(c.src)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	if _, err := Load(Sources{Flags: map[string]string{"PILOTLIGHT_WITNESS_REGION": "none"}}); err != nil {
		t.Fatalf("witness none (two-region mode): %v", err)
	}
}

func TestUnknownKeysAreWarnedAbout(t *testing.T) {
	w := Unknown(Sources{
		Environ:     []string{"PILOTLIGHT_PRIMARY_REGOIN=us-east-1", "PILOTLIGHT_LEASE_TERM=20s", "HOME=/root"},
		Dotenv:      map[string]string{"PILOTLIGHT_REPLICATON_LAG": "1s", "PILOTLIGHT_TARGET": "lab", "PILOTLIGHT_ZZZZZZZZZZZZZZZZ": "x"},
		DotenvFile:  ".env",
		DotenvLines: map[string]int{"PILOTLIGHT_REPLICATON_LAG": 4},
	})
	got := strings.Join(w, "\n")
	for _, want := range []string{
		"PILOTLIGHT_PRIMARY_REGOIN (in the environment) is not a pilotlight setting and is ignored: did you mean PILOTLIGHT_PRIMARY_REGION?",
		"PILOTLIGHT_REPLICATON_LAG (in .env line 4)", "did you mean PILOTLIGHT_REPLICATION_LAG?",
		"PILOTLIGHT_ZZZZZZZZZZZZZZZZ", "see .env.example",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings %q do not say %q", got, want)
		}
	}
	if len(w) != 3 {
		t.Errorf("%d warnings, want 3 (known and function keys are not warned about): %q", len(w), w)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		field string
		want  string
	}{
		{"unknown region", map[string]string{"PILOTLIGHT_PRIMARY_REGION": "us-east-9"}, "PILOTLIGHT_PRIMARY_REGION", "did you mean"},
		{"garbage region", map[string]string{"PILOTLIGHT_DR_REGION": "moon-base-alpha-7"}, "PILOTLIGHT_DR_REGION", "use a region name"},
		{"same region twice", map[string]string{"PILOTLIGHT_PRIMARY_REGION": "us-west-2", "PILOTLIGHT_DR_REGION": "us-west-2"}, "PILOTLIGHT_DR_REGION", "must be a different region"},
		{"duration without unit", map[string]string{"PILOTLIGHT_REPLICATION_LAG": "100"}, "PILOTLIGHT_REPLICATION_LAG", "write 100ms"},
		{"bad duration", map[string]string{"PILOTLIGHT_REPLICATION_LAG": "soon"}, "PILOTLIGHT_REPLICATION_LAG", "not a duration"},
		{"negative duration", map[string]string{"PILOTLIGHT_REPLICATION_LAG": "-1s"}, "PILOTLIGHT_REPLICATION_LAG", "negative"},
		{"bad target", map[string]string{"PILOTLIGHT_TARGET": "gcp"}, "PILOTLIGHT_TARGET", "use lab or aws"},
		{"bad port", map[string]string{"PILOTLIGHT_LAB_BASE_PORT": "80"}, "PILOTLIGHT_LAB_BASE_PORT", "privileged"},
		{"bad app name", map[string]string{"PILOTLIGHT_APP_NAME": "My_App"}, "PILOTLIGHT_APP_NAME", "lowercase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(Sources{Dotenv: tt.env})
			if err == nil {
				t.Fatal("want an error")
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("error %q does not name field %s", err, tt.field)
			}
			if fe.Source != ".env" {
				t.Errorf("source = %q, want .env", fe.Source)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestSettingsStringRedactsSecrets(t *testing.T) {
	s, err := Load(Sources{Environ: []string{"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=s3cr3t"}})
	if err != nil {
		t.Fatal(err)
	}
	out := s.String()
	if strings.Contains(out, "AKIDEXAMPLE") || strings.Contains(out, "s3cr3t") {
		t.Fatalf("secrets leaked: %s", out)
	}
}

func TestDefaults(t *testing.T) {
	s := Defaults()
	if s.PrimaryRegion != "us-east-1" || s.DRRegion != "us-west-2" || s.ReplicationLag != 100*time.Millisecond {
		t.Fatalf("defaults = %s", s)
	}
}

func TestKnownRegionsSorted(t *testing.T) {
	// checkRegion binary-searches the list.
	for i := 1; i < len(KnownRegions); i++ {
		if KnownRegions[i-1] >= KnownRegions[i] {
			t.Fatalf("KnownRegions not sorted at %s, %s", KnownRegions[i-1], KnownRegions[i])
		}
	}
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "0d": 0, "12h": 12 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := ParseAge(in); err != nil || got != want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "30", "xd", "-1d", "1w"} {
		if _, err := ParseAge(bad); err == nil {
			t.Errorf("ParseAge(%q) accepted", bad)
		}
	}
}

func TestFunctionEnvBackupSettings(t *testing.T) {
	env := map[string]string{"AWS_REGION": "us-east-1", "PILOTLIGHT_PEER_REGION": "us-west-2", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}
	get := func(k string) string { return env[k] }
	f, err := LoadFunctionEnv(get)
	if err != nil || f.BackupKeep != 7 || f.BackupMaxAge != 30*24*time.Hour {
		t.Fatalf("defaults: %d %v %v", f.BackupKeep, f.BackupMaxAge, err)
	}
	env["PILOTLIGHT_BACKUP_KEEP"], env["PILOTLIGHT_BACKUP_MAX_AGE"] = "seven", "a week"
	_, err = LoadFunctionEnv(get)
	if err == nil || !strings.Contains(err.Error(), "PILOTLIGHT_BACKUP_KEEP") || !strings.Contains(err.Error(), "PILOTLIGHT_BACKUP_MAX_AGE") {
		t.Fatalf("bad values: %v", err)
	}
}

func TestFunctionEnvTrimsAppURLs(t *testing.T) {
	env := map[string]string{"AWS_REGION": "us-east-1", "PILOTLIGHT_PEER_REGION": "us-west-2", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b",
		"PILOTLIGHT_APP_URLS": `{"us-east-1":"https://abc.lambda-url.us-east-1.on.aws/"}`, "PILOTLIGHT_ACCOUNT": "123456789012"}
	f, err := LoadFunctionEnv(func(k string) string { return env[k] })
	if err != nil || f.AppURLs["us-east-1"] != "https://abc.lambda-url.us-east-1.on.aws" || f.Names().Account != "123456789012" {
		t.Fatalf("%v %v %+v", err, f.AppURLs, f.Names())
	}
}

func TestFunctionEnvWitnessAndLease(t *testing.T) {
	base := func() map[string]string {
		return map[string]string{"AWS_REGION": "us-east-1", "PILOTLIGHT_PEER_REGION": "us-west-2", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}
	}
	tests := []struct {
		name    string
		set     map[string]string
		witness string
		errHas  string
	}{
		{"two-region mode by default", nil, "", ""},
		{"none", map[string]string{"PILOTLIGHT_WITNESS_REGION": "none"}, "", ""},
		{"a third region", map[string]string{"PILOTLIGHT_WITNESS_REGION": "us-east-2"}, "us-east-2", ""},
		{"the peer again", map[string]string{"PILOTLIGHT_WITNESS_REGION": "us-west-2"}, "", "name a third region"},
		{"unknown region", map[string]string{"PILOTLIGHT_WITNESS_REGION": "us-esat-2"}, "", "PILOTLIGHT_WITNESS_REGION"},
		{"lab lease", map[string]string{"PILOTLIGHT_LEASE_TERM": "2s", "PILOTLIGHT_CLOCK_EPSILON": "250ms", "PILOTLIGHT_WRITE_DEADLINE": "750ms"}, "", ""},
		{"no unit", map[string]string{"PILOTLIGHT_LEASE_TERM": "20"}, "", "PILOTLIGHT_LEASE_TERM"},
		{"zero term", map[string]string{"PILOTLIGHT_LEASE_TERM": "0s"}, "", "term and δ must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := base()
			for k, v := range tc.set {
				env[k] = v
			}
			f, err := LoadFunctionEnv(func(k string) string { return env[k] })
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one naming %q", err, tc.errHas)
				}
				return
			}
			if err != nil || f.Witness != tc.witness {
				t.Fatalf("witness %q, err %v; want %q", f.Witness, err, tc.witness)
			}
		})
	}
}

// .env.example is where the README sends users for "every setting".
func TestEnvExampleListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range Fields {
		if !strings.Contains(string(b), f.Env+"=") {
			t.Errorf(".env.example does not mention %s", f.Env)
		}
	}
	if _, err := ParseDotenv(".env.example", b); err != nil {
		t.Errorf(".env.example does not parse: %v", err)
	}
}

func TestObjectivesDefaultByTarget(t *testing.T) {
	lab, err := Load(Sources{})
	if err != nil || lab.RTOObjective != 15*time.Second || lab.RPOObjective != time.Second {
		t.Fatalf("lab objectives %s / %s, %v; want 15s / 1s", lab.RTOObjective, lab.RPOObjective, err)
	}
	aws, err := Load(Sources{Environ: []string{"PILOTLIGHT_TARGET=aws"}})
	if err != nil || aws.RTOObjective != 10*time.Minute || aws.RPOObjective != time.Minute {
		t.Fatalf("aws objectives %s / %s, %v; want 10m / 1m", aws.RTOObjective, aws.RPOObjective, err)
	}
	set, err := Load(Sources{Dotenv: map[string]string{"PILOTLIGHT_RTO_OBJECTIVE": "5s", "PILOTLIGHT_RPO_OBJECTIVE": "250ms"}})
	if err != nil || set.RTOObjective != 5*time.Second || set.RPOObjective != 250*time.Millisecond {
		t.Fatalf("set objectives %s / %s, %v", set.RTOObjective, set.RPOObjective, err)
	}
	if _, err := Load(Sources{Dotenv: map[string]string{"PILOTLIGHT_RTO_OBJECTIVE": "soon"}}); err == nil || !strings.Contains(err.Error(), "PILOTLIGHT_RTO_OBJECTIVE") {
		t.Fatalf("a bad objective: %v", err)
	}
}

func TestFailoverMode(t *testing.T) {
	base := map[string]string{"AWS_REGION": "us-west-2", "PILOTLIGHT_PEER_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}
	get := func(extra map[string]string) func(string) string {
		return func(k string) string {
			if v, ok := extra[k]; ok {
				return v
			}
			return base[k]
		}
	}
	if f, err := LoadFunctionEnv(get(nil)); err != nil || f.Manual {
		t.Fatalf("default: manual %v, %v; want auto", f.Manual, err)
	}
	if f, err := LoadFunctionEnv(get(map[string]string{"PILOTLIGHT_FAILOVER_MODE": "manual"})); err != nil || !f.Manual {
		t.Fatalf("manual: %v, %v", f.Manual, err)
	}
	for extra, want := range map[string]string{"PILOTLIGHT_FAILOVER_MODE": "use auto", "PILOTLIGHT_MANUAL": "PILOTLIGHT_FAILOVER_MODE=manual"} {
		if _, err := LoadFunctionEnv(get(map[string]string{extra: "sometimes"})); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=sometimes: %v; want %q", extra, err, want)
		}
	}
	if _, err := Load(Sources{Dotenv: map[string]string{"PILOTLIGHT_FAILOVER_MODE": "semi"}}); err == nil || !strings.Contains(err.Error(), "use auto or manual") {
		t.Fatalf("settings: %v", err)
	}
}

// FunctionFields is the one list of the functions' settings: every
// PILOTLIGHT_* variable the templates or the lab give a function is in it
// (a setting added to a template and not read by the functions fails
// here), and the CLI names one found in .env as a function setting, not a
// typo.
func TestFunctionFieldsCoverTheTemplatesAndTheLab(t *testing.T) {
	known := map[string]bool{}
	for _, f := range FunctionFields {
		if known[f.Env] || f.Help == "" || f.set == nil {
			t.Errorf("%s: declared twice, or without help or reader", f.Env)
		}
		known[f.Env] = true
	}
	key := regexp.MustCompile(`\b(PILOTLIGHT_[A-Z0-9_]+)(:|=)`)
	given := map[string]bool{}
	files, _ := filepath.Glob("../../cloudformation/*.yaml")
	lab, _ := filepath.Glob("../lab/*.go")
	for _, f := range append(files, lab...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range key.FindAllStringSubmatch(string(b), -1) {
			given[m[1]] = true
			if !known[m[1]] {
				t.Errorf("%s gives the functions %s, which FunctionFields does not declare", f, m[1])
			}
		}
	}
	if len(files) == 0 || len(given) < 20 {
		t.Fatalf("%d templates, %d settings given to functions found: the search is broken", len(files), len(given))
	}
	warn := Unknown(Sources{Dotenv: map[string]string{"PILOTLIGHT_AGREEMENT_WAIT": "2s"}, DotenvFile: ".env"})
	if len(warn) != 1 || !strings.Contains(warn[0], "setting of pilotlight's functions") {
		t.Errorf("PILOTLIGHT_AGREEMENT_WAIT in .env: %v", warn)
	}
}
