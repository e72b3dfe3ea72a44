package lambdaplane

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/internal/lab/atomicfile"
	"github.com/pilotlight/pilotlight/internal/lab/functions"
)

// Options is one region's plane.
type Options struct {
	Region  string
	Account string // the lab's account, in ARNs
	// Dir keeps the functions: <Dir>/<name>/{function.json,code.zip,code/}.
	Dir string
	// RIE is the runtime interface emulator's binary.
	RIE string
	// AccessKey is the only key the API answers (the lab's own: `lab env`).
	AccessKey string
	// Env is the environment every instance gets before the function's own
	// variables: the lab's key and the region's endpoints.
	Env []string
	// Gate, when set, says whether the region answers now (a cut region
	// fails; a slow one waits first).
	Gate func(ctx context.Context) error
	Log  *slog.Logger
}

// Runtimes the lab can run: a custom runtime's bootstrap.
var Runtimes = []string{"provided.al2023", "provided.al2", "provided"}

// DefaultConcurrency is how many instances of a function run at once when
// no reserved concurrency is set.
const DefaultConcurrency = 2

// Environment is a function's variables, as the API writes them.
type Environment struct {
	Variables map[string]string `json:"Variables"`
}

// Configuration is a function's configuration as the API returns it.
type Configuration struct {
	FunctionName     string       `json:"FunctionName"`
	FunctionArn      string       `json:"FunctionArn"`
	Runtime          string       `json:"Runtime"`
	Role             string       `json:"Role"`
	Handler          string       `json:"Handler"`
	Description      string       `json:"Description"`
	CodeSize         int64        `json:"CodeSize"`
	CodeSha256       string       `json:"CodeSha256"`
	Timeout          int32        `json:"Timeout"`
	MemorySize       int32        `json:"MemorySize"`
	LastModified     string       `json:"LastModified"`
	Version          string       `json:"Version"`
	Environment      *Environment `json:"Environment,omitempty"`
	Architectures    []string     `json:"Architectures"`
	PackageType      string       `json:"PackageType"`
	State            string       `json:"State"`
	LastUpdateStatus string       `json:"LastUpdateStatus"`
}

// URLConfig is a function URL's configuration.
type URLConfig struct {
	FunctionURL  string `json:"FunctionUrl"`
	FunctionArn  string `json:"FunctionArn"`
	AuthType     string `json:"AuthType"`
	CreationTime string `json:"CreationTime"`
}

// function is one stored function; pool runs it, started on first use.
type function struct {
	Config   Configuration     `json:"config"`
	Tags     map[string]string `json:"tags,omitempty"`
	URL      *URLConfig        `json:"url,omitempty"`
	Reserved *int32            `json:"reserved_concurrency,omitempty"`

	pool *functions.Pool
}

// Plane is one lab region's Lambda control plane. Its methods are safe for
// concurrent use.
type Plane struct {
	opts Options
	url  string       // where it is served (Serve)
	srv  *http.Server // nil until Serve

	mu  sync.Mutex
	fns map[string]*function
	// starting serialises pool starts and the changes that stop a pool, so
	// one invocation starts a pool, the others wait for it, and a change
	// never races a start. Taken before mu.
	starting sync.Mutex
}

// Open loads the functions kept in opts.Dir.
func Open(opts Options) (*Plane, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	p := &Plane{opts: opts, fns: map[string]*function{}}
	ents, err := os.ReadDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(opts.Dir, e.Name(), "function.json"))
		if errors.Is(err, os.ErrNotExist) {
			continue // a create that did not finish
		}
		if err != nil {
			return nil, err
		}
		var f function
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("lab function %s: %s is corrupt (%v): delete its folder and create the function again", e.Name(), filepath.Join(opts.Dir, e.Name(), "function.json"), err)
		}
		p.fns[f.Config.FunctionName] = &f
	}
	return p, nil
}

// apiError is an error the API answers with its status and type.
type apiError struct {
	Status int
	Type   string
	Msg    string
}

func (e *apiError) Error() string { return e.Type + ": " + e.Msg }

func notFound(name string) error {
	return &apiError{404, "ResourceNotFoundException", "Function not found: " + name}
}

func invalid(format string, a ...any) error {
	return &apiError{400, "InvalidParameterValueException", fmt.Sprintf(format, a...)}
}

// CreateInput is CreateFunction's request.
type CreateInput struct {
	FunctionName  string            `json:"FunctionName"`
	Runtime       string            `json:"Runtime"`
	Role          string            `json:"Role"`
	Handler       string            `json:"Handler"`
	Description   string            `json:"Description"`
	Timeout       int32             `json:"Timeout"`
	MemorySize    int32             `json:"MemorySize"`
	Environment   *Environment      `json:"Environment"`
	Architectures []string          `json:"Architectures"`
	PackageType   string            `json:"PackageType"`
	Tags          map[string]string `json:"Tags"`
	Layers        []string          `json:"Layers"`
	Code          struct {
		ZipFile  []byte `json:"ZipFile"`
		S3Bucket string `json:"S3Bucket"`
		ImageURI string `json:"ImageUri"`
	} `json:"Code"`
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// reserved are the variables Lambda sets itself and refuses in a
// function's configuration.
var reserved = []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_EXECUTION_ENV", "_HANDLER", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"}

func checkEnv(e *Environment) error {
	if e == nil {
		return nil
	}
	for k := range e.Variables {
		if slices.Contains(reserved, k) || strings.HasPrefix(k, "AWS_LAMBDA_") {
			return invalid("Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: %s", k)
		}
	}
	return nil
}

// Create stores a new function.
func (p *Plane) Create(in CreateInput) (Configuration, error) {
	name := in.FunctionName
	switch {
	case !nameRE.MatchString(name):
		return Configuration{}, invalid("function name %q: 1 to 64 letters, digits, hyphens or underscores", name)
	case in.Role == "":
		return Configuration{}, invalid("a function needs a role (--role arn:aws:iam::ACCOUNT:role/NAME; the lab runs it with the lab's key)")
	case in.PackageType == "Image" || in.Code.ImageURI != "":
		return Configuration{}, invalid("the lab runs no container images: deploy the function as a zip (provided.al2023 with a bootstrap), or protect it on AWS")
	case len(in.Layers) > 0:
		return Configuration{}, invalid("the lab runs no layers: put what the layer holds into the function's zip, or protect it on AWS")
	case !slices.Contains(Runtimes, in.Runtime):
		return Configuration{}, invalid("runtime %q: the lab runs custom-runtime functions only (%s, a zip with a bootstrap built for linux/%s — how a Go function is deployed); protect functions in other runtimes on AWS", in.Runtime, strings.Join(Runtimes, ", "), runtime.GOARCH)
	case len(in.Code.ZipFile) == 0 && in.Code.S3Bucket != "":
		return Configuration{}, invalid("the lab does not fetch code from S3: give the zip itself (--zip-file fileb://function.zip)")
	case len(in.Code.ZipFile) == 0:
		return Configuration{}, invalid("no code: give the function's zip (--zip-file fileb://function.zip)")
	}
	if err := checkEnv(in.Environment); err != nil {
		return Configuration{}, err
	}
	if err := checkBootstrap(in.Code.ZipFile); err != nil {
		return Configuration{}, err
	}
	arch := "x86_64"
	if len(in.Architectures) > 0 {
		arch = in.Architectures[0]
	}
	sum := sha256.Sum256(in.Code.ZipFile)
	cfg := Configuration{FunctionName: name, FunctionArn: p.arn(name), Runtime: in.Runtime, Role: in.Role, Handler: orDefault(in.Handler, "bootstrap"),
		Description: in.Description, CodeSize: int64(len(in.Code.ZipFile)), CodeSha256: base64.StdEncoding.EncodeToString(sum[:]),
		Timeout: orDefault(in.Timeout, 3), MemorySize: orDefault(in.MemorySize, 128), LastModified: now(), Version: "$LATEST",
		Environment: in.Environment, Architectures: []string{arch}, PackageType: "Zip", State: "Active", LastUpdateStatus: "Successful"}

	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.fns[name]; ok {
		return Configuration{}, &apiError{409, "ResourceConflictException", "Function already exist: " + name}
	}
	dir := filepath.Join(p.opts.Dir, name)
	if err := os.RemoveAll(dir); err != nil {
		return Configuration{}, err
	}
	if err := unpack(in.Code.ZipFile, filepath.Join(dir, "code")); err != nil {
		return Configuration{}, invalid("the zip could not be unpacked: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "code.zip"), in.Code.ZipFile, 0o644); err != nil {
		return Configuration{}, err
	}
	f := &function{Config: cfg, Tags: in.Tags}
	if err := p.save(f); err != nil {
		return Configuration{}, err
	}
	p.fns[name] = f
	return cfg, nil
}

// checkBootstrap checks the zip holds a bootstrap this machine can run.
func checkBootstrap(zipped []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		return invalid("the code is not a zip file: %v", err)
	}
	for _, f := range zr.File {
		if f.Name != "bootstrap" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return invalid("bootstrap: %v", err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, 512<<20))
		rc.Close()
		if err != nil {
			return invalid("bootstrap: %v", err)
		}
		ef, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			return invalid("bootstrap is not a Linux executable (%v): build it with GOOS=linux", err)
		}
		want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
		if ef.Machine != want {
			return invalid("bootstrap is built for %s, and this lab runs on linux/%s: build it with GOARCH=%s for the lab (Lambda itself runs arm64 and x86_64)", ef.Machine, runtime.GOARCH, runtime.GOARCH)
		}
		return nil
	}
	return invalid("the zip has no bootstrap at its root: a custom runtime starts ./bootstrap (go build -o bootstrap, then zip it)")
}

// unpack writes the zip's files under dir, refusing any path that leaves it.
func unpack(zipped []byte, dir string) error {
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		return err
	}
	for _, f := range zr.File {
		dst := filepath.Join(dir, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(dst, filepath.Clean(dir)+string(filepath.Separator)) {
			return fmt.Errorf("%s leaves the function's folder", f.Name)
		}
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if f.Mode()&0o111 != 0 || f.Name == "bootstrap" {
			mode = 0o755
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
		if err != nil {
			rc.Close()
			return err
		}
		_, err = io.Copy(out, rc)
		rc.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// save writes f's record; the caller holds p.mu.
func (p *Plane) save(f *function) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(p.opts.Dir, f.Config.FunctionName, "function.json")
	return atomicfile.Write(path, b, 0o644)
}

// nameOf takes a function's name from a name or an ARN (with or without a
// qualifier).
func nameOf(s string) string {
	if i := strings.Index(s, ":function:"); i >= 0 {
		s = s[i+len(":function:"):]
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return s
}

func (p *Plane) get(name string) (*function, error) {
	f, ok := p.fns[nameOf(name)]
	if !ok {
		return nil, notFound(name)
	}
	return f, nil
}

// Function is GetFunction's answer.
type Function struct {
	Configuration Configuration     `json:"Configuration"`
	Code          map[string]string `json:"Code"`
	Tags          map[string]string `json:"Tags,omitempty"`
	Concurrency   map[string]int32  `json:"Concurrency,omitempty"`
}

// Get reads a function; its code is downloadable from the plane's URL.
func (p *Plane) Get(name string) (Function, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := p.get(name)
	if err != nil {
		return Function{}, err
	}
	out := Function{Configuration: f.Config, Tags: maps.Clone(f.Tags),
		Code: map[string]string{"RepositoryType": "S3", "Location": p.url + "/_code/" + f.Config.FunctionName + ".zip"}}
	if f.Reserved != nil {
		out.Concurrency = map[string]int32{"ReservedConcurrentExecutions": *f.Reserved}
	}
	return out, nil
}

// List is every function, by name.
func (p *Plane) List() []Configuration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Configuration
	for _, f := range p.fns {
		out = append(out, f.Config)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FunctionName < out[j].FunctionName })
	return out
}

// Code is a function's zip.
func (p *Plane) Code(name string) ([]byte, error) {
	p.mu.Lock()
	_, err := p.get(name)
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(p.opts.Dir, nameOf(name), "code.zip"))
}

// Delete removes a function, its URL and its code.
func (p *Plane) Delete(name string) error {
	p.starting.Lock()
	defer p.starting.Unlock()
	p.mu.Lock()
	f, err := p.get(name)
	if err == nil {
		delete(p.fns, f.Config.FunctionName)
	}
	p.mu.Unlock()
	if err != nil {
		return err
	}
	if f.pool != nil {
		f.pool.Stop()
	}
	return os.RemoveAll(filepath.Join(p.opts.Dir, f.Config.FunctionName))
}

// UpdateInput is UpdateFunctionConfiguration's request: a field left out
// is kept.
type UpdateInput struct {
	Role        *string      `json:"Role"`
	Handler     *string      `json:"Handler"`
	Description *string      `json:"Description"`
	Timeout     *int32       `json:"Timeout"`
	MemorySize  *int32       `json:"MemorySize"`
	Environment *Environment `json:"Environment"`
	Layers      []string     `json:"Layers"`
}

// Update changes a function's configuration; its running instances are
// replaced by ones with the new configuration.
func (p *Plane) Update(name string, in UpdateInput) (Configuration, error) {
	if len(in.Layers) > 0 {
		return Configuration{}, invalid("the lab runs no layers")
	}
	if err := checkEnv(in.Environment); err != nil {
		return Configuration{}, err
	}
	p.starting.Lock()
	defer p.starting.Unlock()
	p.mu.Lock()
	f, err := p.get(name)
	if err != nil {
		p.mu.Unlock()
		return Configuration{}, err
	}
	next := *f
	c := &next.Config
	set(&c.Role, in.Role)
	set(&c.Handler, in.Handler)
	set(&c.Description, in.Description)
	set(&c.Timeout, in.Timeout)
	set(&c.MemorySize, in.MemorySize)
	if in.Environment != nil {
		c.Environment = in.Environment
	}
	c.LastModified = now()
	next.pool = nil
	if err := p.save(&next); err != nil {
		p.mu.Unlock()
		return Configuration{}, err
	}
	old := f.pool
	*f = next
	p.mu.Unlock()
	if old != nil {
		old.Stop()
	}
	return next.Config, nil
}

// SetConcurrency reserves n concurrent executions (nil: none reserved).
// Zero stops every invocation: the kill switch.
func (p *Plane) SetConcurrency(name string, n *int32) error {
	if n != nil && (*n < 0 || *n > 1000) {
		return invalid("reserved concurrency %d: 0 to 1000", *n)
	}
	p.starting.Lock()
	defer p.starting.Unlock()
	p.mu.Lock()
	f, err := p.get(name)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	f.Reserved = n
	err = p.save(f)
	old := f.pool
	f.pool = nil
	p.mu.Unlock()
	if old != nil {
		old.Stop()
	}
	return err
}

// Concurrency is a function's reserved concurrency (nil: none).
func (p *Plane) Concurrency(name string) (*int32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := p.get(name)
	if err != nil {
		return nil, err
	}
	return f.Reserved, nil
}

// Tags are a function's tags.
func (p *Plane) Tags(name string) (map[string]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := p.get(name)
	if err != nil {
		return nil, err
	}
	return maps.Clone(f.Tags), nil
}

// CreateURL gives a function a URL (auth NONE or AWS_IAM).
func (p *Plane) CreateURL(name, auth string) (URLConfig, error) {
	if auth != "NONE" && auth != "AWS_IAM" {
		return URLConfig{}, invalid("AuthType %q: NONE or AWS_IAM", auth)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := p.get(name)
	if err != nil {
		return URLConfig{}, err
	}
	if f.URL != nil {
		return URLConfig{}, &apiError{409, "ResourceConflictException", "Failed to create function url config for [functionArn = " + f.Config.FunctionArn + "]. Error message:  FunctionUrlConfig exists for this Lambda function"}
	}
	f.URL = &URLConfig{FunctionURL: p.url + "/_url/" + f.Config.FunctionName + "/", FunctionArn: f.Config.FunctionArn, AuthType: auth, CreationTime: now()}
	if err := p.save(f); err != nil {
		f.URL = nil
		return URLConfig{}, err
	}
	return *f.URL, nil
}

// URL is a function's URL configuration.
func (p *Plane) URL(name string) (URLConfig, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := p.get(name)
	if err != nil {
		return URLConfig{}, err
	}
	if f.URL == nil {
		return URLConfig{}, &apiError{404, "ResourceNotFoundException", "The resource you requested does not exist."}
	}
	return *f.URL, nil
}

// DeleteURL removes a function's URL.
func (p *Plane) DeleteURL(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := p.get(name)
	if err != nil {
		return err
	}
	if f.URL == nil {
		return &apiError{404, "ResourceNotFoundException", "The resource you requested does not exist."}
	}
	f.URL = nil
	return p.save(f)
}

// Invoke runs one invocation. A function's own error comes back with its
// payload as a *functions.Error, as Lambda's X-Amz-Function-Error does.
func (p *Plane) Invoke(ctx context.Context, name string, payload []byte) ([]byte, error) {
	if g := p.opts.Gate; g != nil {
		if err := g(ctx); err != nil {
			return nil, err
		}
	}
	pool, err := p.pool(ctx, name)
	if err != nil {
		return nil, err
	}
	return pool.Invoke(ctx, payload)
}

// pool is the function's running pool, started on first use.
func (p *Plane) pool(ctx context.Context, name string) (*functions.Pool, error) {
	p.starting.Lock()
	defer p.starting.Unlock()
	p.mu.Lock()
	f, err := p.get(name)
	if err != nil {
		p.mu.Unlock()
		return nil, err
	}
	if f.pool != nil {
		pool := f.pool
		p.mu.Unlock()
		return pool, nil
	}
	n := DefaultConcurrency
	if f.Reserved != nil {
		n = min(int(*f.Reserved), DefaultConcurrency)
	}
	cfg := f.Config
	p.mu.Unlock()
	if n == 0 {
		return nil, &apiError{429, "TooManyRequestsException", "Rate Exceeded. (reserved concurrency of " + cfg.FunctionName + " is 0: its kill switch is on)"}
	}
	dir := filepath.Join(p.opts.Dir, cfg.FunctionName)
	pool, err := functions.Start(ctx, functions.Spec{Region: p.opts.Region, Name: cfg.FunctionName, N: n, Env: p.env(cfg),
		Dir: filepath.Join(dir, "code"), RIE: p.opts.RIE, Log: p.opts.Log,
		LogPath: func(i int) string { return filepath.Join(dir, "instance-"+strconv.Itoa(i)+".log") }})
	if err != nil {
		if pool != nil {
			pool.Stop()
		}
		return nil, &apiError{500, "ServiceException", "start " + cfg.FunctionName + ": " + err.Error()}
	}
	// Nothing changed the function meanwhile: changes wait for p.starting.
	p.mu.Lock()
	defer p.mu.Unlock()
	f.pool = pool
	return pool, nil
}

// env is an instance's environment: a clean one, as Lambda's is, with the
// lab's (the key and the region's endpoints), then the function's own
// variables (which win, as a variable a user sets on Lambda does), then
// the ones Lambda reserves.
func (p *Plane) env(cfg Configuration) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "TMPDIR=" + os.TempDir(), "TZ=:UTC", "LANG=en_US.UTF-8"}
	env = append(env, p.opts.Env...)
	if cfg.Environment != nil {
		keys := slices.Sorted(maps.Keys(cfg.Environment.Variables))
		for _, k := range keys {
			env = append(env, k+"="+cfg.Environment.Variables[k])
		}
	}
	return append(env, "AWS_REGION="+p.opts.Region, "AWS_DEFAULT_REGION="+p.opts.Region,
		"AWS_LAMBDA_FUNCTION_NAME="+cfg.FunctionName, "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(int(cfg.MemorySize)), "AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(int(cfg.Timeout)))
}

// Close stops serving and stops every running function.
func (p *Plane) Close() {
	if p.srv != nil {
		p.srv.Close()
	}
	p.mu.Lock()
	var pools []*functions.Pool
	for _, f := range p.fns {
		if f.pool != nil {
			pools = append(pools, f.pool)
			f.pool = nil
		}
	}
	p.mu.Unlock()
	for _, pool := range pools {
		pool.Stop()
	}
}

func (p *Plane) arn(name string) string {
	return "arn:aws:lambda:" + p.opts.Region + ":" + p.opts.Account + ":function:" + name
}

func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000+0000") }

func orDefault[T comparable](v, d T) T {
	var zero T
	if v == zero {
		return d
	}
	return v
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
