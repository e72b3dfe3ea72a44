package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Target says where pilotlight runs.
type Target string

const (
	// TargetLab is the local two-region lab: no AWS account needed.
	TargetLab Target = "lab"
	// TargetAWS is a real AWS account.
	TargetAWS Target = "aws"
)

// Settings is the resolved configuration. The zero value is not useful: use
// Load, or Defaults for tests.
type Settings struct {
	Target        Target
	PrimaryRegion string // PILOTLIGHT_PRIMARY_REGION (fallback AWS_DEFAULT_REGION)
	DRRegion      string // PILOTLIGHT_DR_REGION
	WitnessRegion string // PILOTLIGHT_WITNESS_REGION: the third control record ("none": two-region mode)
	AWSProfile    string // AWS_PROFILE: a named AWS profile for --target aws
	FailoverMode  string // PILOTLIGHT_FAILOVER_MODE: auto or manual
	// RTOObjective and RPOObjective: a drill that misses one fails
	// (PILOTLIGHT_RTO_OBJECTIVE, PILOTLIGHT_RPO_OBJECTIVE; defaults by
	// target: AWS 10m and 1m, the seed system's targets; lab 15s and 1s).
	RTOObjective, RPOObjective time.Duration
	AppName                    string        // PILOTLIGHT_APP_NAME: prefix of every resource name
	LabDir                     string        // PILOTLIGHT_LAB_DIR: lab state and data
	CacheDir                   string        // PILOTLIGHT_CACHE_DIR: downloaded and built servers
	LabBasePort                int           // PILOTLIGHT_LAB_BASE_PORT: 0 picks free ports
	ReplicationLag             time.Duration // PILOTLIGHT_REPLICATION_LAG: added delay of lab replication
	FunctionsDir               string        // PILOTLIGHT_FUNCTIONS_DIR: built function bootstraps
	ReportsDir                 string        // PILOTLIGHT_REPORTS_DIR: every drill's report
	ProtectDir                 string        // PILOTLIGHT_PROTECT_DIR: protect's plans, and each application's applied one
	// Credentials for the aws target; never printed.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// Field describes one setting: its environment name, default and meaning. The
// list drives parsing, `--help` text and .env.example alike.
type Field struct {
	Env     string
	Default string
	Help    string
	set     func(s *Settings, v string) error
	// Fallback is read when Env is set nowhere (an older or more general
	// name: AWS_DEFAULT_REGION for the primary region).
	Fallback string
}

// Fields lists every setting pilotlight reads.
var Fields = []Field{
	{Env: "PILOTLIGHT_TARGET", Default: "lab", Help: "where to run: lab (local, no account) or aws", set: func(s *Settings, v string) error {
		switch Target(v) {
		case TargetLab, TargetAWS:
			s.Target = Target(v)
			return nil
		}
		return fmt.Errorf("unknown target %q: use lab or aws", v)
	}},
	{Env: "PILOTLIGHT_PRIMARY_REGION", Default: "us-east-1", Help: "primary region (when unset: AWS_DEFAULT_REGION, then us-east-1)", Fallback: "AWS_DEFAULT_REGION", set: func(s *Settings, v string) error {
		s.PrimaryRegion = v
		return checkRegion(v)
	}},
	{Env: "PILOTLIGHT_DR_REGION", Default: "us-west-2", Help: "disaster-recovery region", Fallback: "AWS_DR_REGION", set: func(s *Settings, v string) error {
		s.DRRegion = v
		return checkRegion(v)
	}},
	{Env: "PILOTLIGHT_WITNESS_REGION", Default: "us-east-2", Help: "witness region: holds the third control record (none: two regions, split-brain protection best effort)", set: func(s *Settings, v string) error {
		s.WitnessRegion = v
		if v == "none" {
			return nil
		}
		return checkRegion(v)
	}},
	{Env: "PILOTLIGHT_FAILOVER_MODE", Default: "auto", Help: "auto: the alarm fails over; manual: the alarm notifies and a person runs `pilotlight failover` (the lab's controller, and the DR stack's FailoverMode parameter)", set: func(s *Settings, v string) error {
		switch v {
		case "auto", "manual":
			s.FailoverMode = v
			return nil
		}
		return fmt.Errorf("%q: use auto or manual", v)
	}},
	{Env: "PILOTLIGHT_RTO_OBJECTIVE", Help: "recovery time objective: a drill whose RTO is longer fails (default 10m on AWS, 15s in the lab)", set: optionalDuration(func(s *Settings) *time.Duration { return &s.RTOObjective })},
	{Env: "PILOTLIGHT_RPO_OBJECTIVE", Help: "recovery point objective: a drill that loses more seconds of acknowledged writes at takeover fails (default 1m on AWS, 1s in the lab)", set: optionalDuration(func(s *Settings) *time.Duration { return &s.RPOObjective })},
	{Env: "AWS_PROFILE", Help: "named AWS profile for --target aws (flag --aws-profile)", set: func(s *Settings, v string) error {
		s.AWSProfile = v
		return nil
	}},
	{Env: "PILOTLIGHT_APP_NAME", Default: "pilotlight", Help: "prefix of every table, bucket and stack name", set: func(s *Settings, v string) error {
		if !validAppName(v) {
			return fmt.Errorf("%q is not usable in bucket names: use 3-20 lowercase letters, digits or '-', starting with a letter", v)
		}
		s.AppName = v
		return nil
	}},
	{Env: "PILOTLIGHT_LAB_DIR", Default: ".lab", Help: "lab state, logs and data", set: func(s *Settings, v string) error {
		if v == "" {
			return errors.New("empty: give a directory")
		}
		s.LabDir = v
		return nil
	}},
	{Env: "PILOTLIGHT_CACHE_DIR", Default: "~/.cache/pilotlight", Help: "downloaded DynamoDB Local and built versitygw", set: func(s *Settings, v string) error {
		if v == "" {
			return errors.New("empty: give a directory")
		}
		s.CacheDir = v
		return nil
	}},
	{Env: "PILOTLIGHT_LAB_BASE_PORT", Default: "0", Help: "first of the lab's fixed ports (0: free ports)", set: func(s *Settings, v string) error {
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 || p > 65000 {
			return fmt.Errorf("%q is not a port: use 0 (free ports) or a number from 1024 to 65000", v)
		}
		if p != 0 && p < 1024 {
			return fmt.Errorf("%d is a privileged port: use 0 (free ports) or a number from 1024 to 65000", p)
		}
		s.LabBasePort = p
		return nil
	}},
	{Env: "PILOTLIGHT_REPLICATION_LAG", Default: "100ms", Help: "delay the lab adds to replication, like a real cross-region link", set: func(s *Settings, v string) error {
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		if d > time.Hour {
			return fmt.Errorf("%s is longer than an hour: use a lag like 100ms or 2s", d)
		}
		s.ReplicationLag = d
		return nil
	}},
	{Env: "PILOTLIGHT_REPORTS_DIR", Default: ".pilotlight/reports", Help: "where every drill keeps its report (<time>-<scenario>/report.json and .html)", set: func(s *Settings, v string) error {
		if v == "" {
			return errors.New("empty: give a directory")
		}
		s.ReportsDir = v
		return nil
	}},
	{Env: "PILOTLIGHT_PROTECT_DIR", Default: ".pilotlight/protect", Help: "protect's plans, and the plan applied for each application (drill --app reads it)", set: func(s *Settings, v string) error {
		if v == "" {
			return errors.New("empty: give a directory")
		}
		s.ProtectDir = v
		return nil
	}},
	{Env: "PILOTLIGHT_FUNCTIONS_DIR", Default: "bin/functions", Help: "built functions (<name>/bootstrap), from `make build`", set: func(s *Settings, v string) error {
		s.FunctionsDir = v
		return nil
	}},
	{Env: "AWS_ACCESS_KEY_ID", Default: "", Help: "credentials for --target aws (or use a profile)", set: func(s *Settings, v string) error {
		s.AccessKeyID = v
		return nil
	}},
	{Env: "AWS_SECRET_ACCESS_KEY", Default: "", Help: "credentials for --target aws", set: func(s *Settings, v string) error {
		s.SecretAccessKey = v
		return nil
	}},
	{Env: "AWS_SESSION_TOKEN", Default: "", Help: "session token for temporary credentials", set: func(s *Settings, v string) error {
		s.SessionToken = v
		return nil
	}},
}

// FieldError says which setting is wrong, where its value came from, and why.
type FieldError struct {
	Field  string // what the user set: an environment name (AWS_DR_REGION) or a flag (--primary)
	Source string // "flag", "environment", ".env line 3", "default", "settings"
	Err    error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s (from %s): %v", e.Field, e.Source, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// Sources are the layers settings come from. Each maps environment names to
// values; a key present in an earlier layer wins over later ones.
type Sources struct {
	Flags map[string]string // from command-line flags, keyed by env name
	// FlagNames names the flag each Flags key came from (--primary), for
	// errors; without it the error names the environment key.
	FlagNames map[string]string
	Environ   []string          // os.Environ()-style KEY=VALUE pairs
	Dotenv    map[string]string // parsed .env
	// DotenvFile and DotenvLines (key → 1-based line) say where a .env
	// value was written, for errors.
	DotenvFile  string
	DotenvLines map[string]int
	Home        string // for expanding ~ in paths
}

// Load resolves settings from the sources and validates them. An error
// names what the user actually set — the flag, the environment variable or
// the .env line, or the default — not only the setting's canonical name.
func Load(src Sources) (Settings, error) {
	env := make(map[string]string, len(src.Environ))
	for _, kv := range src.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	var s Settings
	var errs []error
	origin := map[string]*FieldError{}
	for _, f := range Fields {
		v, field, from, found := src.lookup(f.Env, env)
		if !found && f.Fallback != "" {
			if fv, ffield, ffrom, ok := src.lookup(f.Fallback, env); ok {
				v, field, from, found = fv, ffield, ffrom+", read because "+f.Env+" is not set", true
			}
		}
		if !found {
			v, field, from = f.Default, f.Env, "default"
		}
		origin[f.Env] = &FieldError{Field: field, Source: from}
		if err := f.set(&s, strings.TrimSpace(v)); err != nil {
			errs = append(errs, &FieldError{Field: field, Source: from, Err: err})
		}
	}
	s.LabDir = expandHome(s.LabDir, src.Home)
	s.CacheDir = expandHome(s.CacheDir, src.Home)
	if s.RTOObjective == 0 {
		s.RTOObjective = 15 * time.Second
		if s.Target == TargetAWS {
			s.RTOObjective = 10 * time.Minute
		}
	}
	if s.RPOObjective == 0 {
		s.RPOObjective = time.Second
		if s.Target == TargetAWS {
			s.RPOObjective = time.Minute
		}
	}
	if len(errs) == 0 {
		same := func(env string, err error) {
			o := origin[env]
			errs = append(errs, &FieldError{Field: o.Field, Source: o.Source, Err: err})
		}
		if s.PrimaryRegion == s.DRRegion {
			p := origin["PILOTLIGHT_PRIMARY_REGION"]
			same("PILOTLIGHT_DR_REGION", fmt.Errorf("same as the primary region %s (set by %s, from %s): the DR region must be a different region, e.g. %s", s.PrimaryRegion, p.Field, p.Source, suggestDR(s.PrimaryRegion)))
		}
		if s.WitnessRegion == s.PrimaryRegion || s.WitnessRegion == s.DRRegion {
			same("PILOTLIGHT_WITNESS_REGION", fmt.Errorf("%s is one of the two application regions: the witness must be a third region, e.g. %s (or none)", s.WitnessRegion, suggestWitness(s.PrimaryRegion, s.DRRegion)))
		}
	}
	return s, errors.Join(errs...)
}

// lookup finds key in the flags, the environment and .env, in that order.
func (src Sources) lookup(key string, env map[string]string) (v, field, from string, ok bool) {
	if x, ok := src.Flags[key]; ok {
		field = key
		if n := src.FlagNames[key]; n != "" {
			field = n
		}
		return x, field, "flag", true
	}
	if x, ok := env[key]; ok && x != "" {
		return x, key, "environment", true
	}
	if x, ok := src.Dotenv[key]; ok {
		from := ".env"
		if src.DotenvFile != "" {
			from = src.DotenvFile
		}
		if n := src.DotenvLines[key]; n > 0 {
			from = fmt.Sprintf("%s line %d", from, n)
		}
		return x, key, from, true
	}
	return "", "", "", false
}

func suggestWitness(primary, dr string) string {
	for _, r := range []string{"us-east-2", "us-west-1", "eu-west-1"} {
		if r != primary && r != dr {
			return r
		}
	}
	return "us-east-2"
}

// FunctionKeys are the PILOTLIGHT_* settings the functions read (their
// environment, set by the templates and the lab): known, so not warned
// about, though the CLI itself does not use them.
var FunctionKeys = []string{
	"PILOTLIGHT_ACCOUNT", "PILOTLIGHT_ALARM_NAME", "PILOTLIGHT_ALARM_URL", "PILOTLIGHT_APP_URLS", "PILOTLIGHT_BACKUP_KEEP", "PILOTLIGHT_BACKUP_MAX_AGE",
	"PILOTLIGHT_CLOCK_EPSILON", "PILOTLIGHT_CLOCK_OFFSET_FILE", "PILOTLIGHT_ENDPOINTS", "PILOTLIGHT_LEASE_TERM",
	"PILOTLIGHT_METRICS", "PILOTLIGHT_MIN_DWELL", "PILOTLIGHT_NOTIFY_FILE", "PILOTLIGHT_NOTIFY_TOPIC",
	"PILOTLIGHT_PEER_REGION", "PILOTLIGHT_PROBE_INTERVAL", "PILOTLIGHT_RENEW_FOR", "PILOTLIGHT_ROUTING_URL", "PILOTLIGHT_ROUTING_RECORD", "PILOTLIGHT_ROUTING_DR_HOST", "PILOTLIGHT_HEALTH_ONLY",
	"PILOTLIGHT_S3_CANARY_WRITE_EVERY", "PILOTLIGHT_TIME_SERVER", "PILOTLIGHT_WRITE_DEADLINE", "PILOTLIGHT_RUN_MAIN",
}

// Unknown returns a warning for each PILOTLIGHT_* key in the environment or
// in .env that pilotlight does not read — a typo that would silently leave
// the default in force — with the nearest known name.
func Unknown(src Sources) []string {
	known := map[string]bool{}
	var names []string
	for _, f := range Fields {
		known[f.Env] = true
		names = append(names, f.Env)
	}
	for _, k := range FunctionKeys {
		known[k] = true
	}
	seen := map[string]string{}
	for _, kv := range src.Environ {
		if k, _, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "PILOTLIGHT_") && !known[k] {
			seen[k] = "the environment"
		}
	}
	for k := range src.Dotenv {
		if strings.HasPrefix(k, "PILOTLIGHT_") && !known[k] {
			where := ".env"
			if src.DotenvFile != "" {
				where = src.DotenvFile
			}
			if n := src.DotenvLines[k]; n > 0 {
				where = fmt.Sprintf("%s line %d", where, n)
			}
			seen[k] = where
		}
	}
	var out []string
	for k, where := range seen {
		best, bestD := "", 5
		for _, n := range names {
			if d := EditDistance(k, n); d < bestD {
				best, bestD = n, d
			}
		}
		if isFunctionField(k) {
			out = append(out, fmt.Sprintf("%s (in %s) is a setting of pilotlight's functions, not of the CLI: deploy sets it from the templates and the lab from its own, so here it has no effect", k, where))
			continue
		}
		msg := fmt.Sprintf("%s (in %s) is not a pilotlight setting and is ignored", k, where)
		if best != "" {
			msg += fmt.Sprintf(": did you mean %s?", best)
		} else {
			msg += ": see .env.example for every setting"
		}
		out = append(out, msg)
	}
	sort.Strings(out)
	return out
}

// isFunctionField reports whether k is one of FunctionFields.
func isFunctionField(k string) bool {
	for _, f := range FunctionFields {
		if f.Env == k {
			return true
		}
	}
	return false
}

// Defaults returns the settings with every default applied.
func Defaults() Settings {
	s, err := Load(Sources{Home: os.TempDir()})
	if err != nil {
		panic("config defaults invalid: " + err.Error())
	}
	return s
}

// Regions returns the primary and DR region names.
func (s Settings) Regions() [2]string { return [2]string{s.PrimaryRegion, s.DRRegion} }

// String prints the settings with secrets redacted.
func (s Settings) String() string {
	redact := func(v string) string {
		if v == "" {
			return "(unset)"
		}
		return "(set)"
	}
	return fmt.Sprintf("target=%s primary=%s dr=%s witness=%s app=%s lab_dir=%s cache_dir=%s base_port=%d replication_lag=%s access_key=%s secret=%s",
		s.Target, s.PrimaryRegion, s.DRRegion, s.WitnessRegion, s.AppName, s.LabDir, s.CacheDir, s.LabBasePort, s.ReplicationLag, redact(s.AccessKeyID), redact(s.SecretAccessKey))
}

// optionalDuration sets a duration that may be left empty (then the
// target's default applies after loading).
func optionalDuration(field func(*Settings) *time.Duration) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		if v == "" {
			return nil
		}
		d, err := parseDuration(v)
		*field(s) = d
		return err
	}
}

func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		if _, nerr := strconv.Atoi(v); nerr == nil {
			return 0, fmt.Errorf("%q has no unit: write %sms or %ss", v, v, v)
		}
		return 0, fmt.Errorf("%q is not a duration: write it like 250ms, 2s or 1m", v)
	}
	if d < 0 {
		return 0, fmt.Errorf("%s is negative: use 0 or more", d)
	}
	return d, nil
}

func expandHome(p, home string) string {
	if home != "" && (p == "~" || strings.HasPrefix(p, "~/")) {
		return filepath.Join(home, strings.TrimPrefix(p, "~"))
	}
	return p
}

func validAppName(v string) bool {
	if len(v) < 3 || len(v) > 20 || v[0] < 'a' || v[0] > 'z' || strings.HasSuffix(v, "-") {
		return false
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// KnownRegions are the AWS commercial regions pilotlight accepts.
var KnownRegions = []string{
	"af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
	"ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "ca-central-1", "ca-west-1",
	"eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1",
	"eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
	"sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
}

func checkRegion(v string) error {
	if v == "" {
		return errors.New("empty: set a region name such as us-east-1")
	}
	i := sort.SearchStrings(KnownRegions, v)
	if i < len(KnownRegions) && KnownRegions[i] == v {
		return nil
	}
	if s := closest(v); s != "" {
		return fmt.Errorf("unknown region %q: did you mean %s?", v, s)
	}
	return fmt.Errorf("unknown region %q: use a region name such as us-east-1 or eu-west-1", v)
}

// closest returns the known region nearest to v by edit distance, if close.
func closest(v string) string {
	best, bestD := "", 4
	for _, r := range KnownRegions {
		if d := EditDistance(strings.ToLower(v), r); d < bestD {
			best, bestD = r, d
		}
	}
	return best
}

// EditDistance is the Levenshtein distance between two strings: how
// pilotlight finds the "did you mean" for a misspelled name.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func suggestDR(primary string) string {
	if primary == "us-west-2" {
		return "us-east-1"
	}
	return "us-west-2"
}

// ParseAge reads a retention age: days as "30d", or a Go duration such as
// "12h". It is what --max-age and PILOTLIGHT_BACKUP_MAX_AGE take.
func ParseAge(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100000 {
			return 0, fmt.Errorf("%q is not a number of days: write it like 30d", v)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := parseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not an age: write days like 30d, or hours like 12h", v)
	}
	return d, nil
}
