package lambdaplane_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/pilotlight/pilotlight/internal/lab/lambdaplane"
	"github.com/pilotlight/pilotlight/internal/lab/server"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

const key = "LABTESTKEY"

var echo struct {
	once sync.Once
	zip  []byte
	err  error
}

// echoZip builds testdata/echo for this machine (once per test binary) and
// zips it as a user would for provided.al2023.
func echoZip(t *testing.T) []byte {
	t.Helper()
	echo.once.Do(func() {
		dir, err := os.MkdirTemp("", "lambdaplane-echo-")
		if err != nil {
			echo.err = err
			return
		}
		defer os.RemoveAll(dir)
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", filepath.Join(dir, "bootstrap"), "./testdata/echo")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if out, err := cmd.CombinedOutput(); err != nil {
			echo.err = fmt.Errorf("build echo: %v\n%s", err, out)
			return
		}
		echo.zip = zipOf(t, "bootstrap", filepath.Join(dir, "bootstrap"))
	})
	if echo.err != nil {
		t.Fatal(echo.err)
	}
	return echo.zip
}

func zipOf(t *testing.T, name, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: name, Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type plane struct {
	*lambdaplane.Plane
	client *lambda.Client
}

func start(t *testing.T, dir, rie string) plane {
	t.Helper()
	p, err := lambdaplane.Open(lambdaplane.Options{Region: "us-east-1", Account: "000000000000", Dir: dir, RIE: rie, AccessKey: key, Env: []string{"GREETING=lab-default"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Serve(ln)
	t.Cleanup(p.Close)
	return plane{p, lambdaClient(p.Endpoint(), key)}
}

func lambdaClient(endpoint, key string) *lambda.Client {
	return lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(key, "secret", "")})
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func create(name string, code []byte) *lambda.CreateFunctionInput {
	return &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023, Role: aws.String("arn:aws:iam::000000000000:role/echo"),
		Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: code}, Tags: map[string]string{"app": "shop"},
		Environment: &types.Environment{Variables: map[string]string{"GREETING": "hello"}}}
}

func TestFunctionsAreCreatedReadAndKeptWithTheSDK(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := start(t, dir, "")
	code := echoZip(t)
	out, err := p.client.CreateFunction(ctx, create("echo", code))
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:echo" || out.State != types.StateActive {
		t.Fatalf("created %s in state %s", aws.ToString(out.FunctionArn), out.State)
	}
	if _, err := p.client.CreateFunction(ctx, create("echo", code)); apiCode(err) != "ResourceConflictException" {
		t.Fatalf("a second create: %v, want ResourceConflictException", err)
	}
	g, err := p.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: out.FunctionArn})
	if err != nil {
		t.Fatal(err)
	}
	if g.Tags["app"] != "shop" || g.Configuration.Environment.Variables["GREETING"] != "hello" {
		t.Fatalf("GetFunction: tags %v, environment %v", g.Tags, g.Configuration.Environment.Variables)
	}
	resp, err := http.Get(aws.ToString(g.Code.Location))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, code) {
		t.Fatalf("the code location gave %d bytes, want the %d created", len(got), len(code))
	}
	if _, err := p.client.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("echo")}); apiCode(err) != "ResourceNotFoundException" {
		t.Fatalf("URL before one was made: %v", err)
	}
	u, err := p.client.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("echo"), AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.client.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String("echo")})
	if err != nil || len(m.EventSourceMappings) != 0 {
		t.Fatalf("event sources: %v %v", m, err)
	}
	// Another key is refused.
	if _, err := lambdaClient(p.Endpoint(), "SOMEONEELSE").ListFunctions(ctx, &lambda.ListFunctionsInput{}); apiCode(err) != "UnrecognizedClientException" {
		t.Fatalf("an unknown key: %v", err)
	}
	// AWS CLI v1 lists without the trailing slash: the same call, not a
	// redirect (unsigned here, so refused as such).
	if resp, err := http.Get(p.Endpoint() + "/2015-03-31/functions"); err != nil || resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-Errortype") != "UnrecognizedClientException" {
		t.Fatalf("list without the slash: %v %v", resp, err)
	}
	// A restarted plane on the same folder has the function and its URL.
	p.Close()
	again := start(t, dir, "")
	l, err := again.client.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil || len(l.Functions) != 1 || aws.ToString(l.Functions[0].CodeSha256) != aws.ToString(out.CodeSha256) {
		t.Fatalf("after a restart: %+v %v", l, err)
	}
	u2, err := again.client.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("echo")})
	if err != nil || u2.AuthType != u.AuthType {
		t.Fatalf("URL after a restart: %v %v", u2, err)
	}
	if _, err := again.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("echo")}); err != nil {
		t.Fatal(err)
	}
	if _, err := again.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("echo")}); apiCode(err) != "ResourceNotFoundException" {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "echo")); !os.IsNotExist(err) {
		t.Fatalf("the deleted function's folder is still there: %v", err)
	}
}

func TestWhatTheLabCannotRunIsRefusedWithTheFix(t *testing.T) {
	ctx := context.Background()
	p := start(t, t.TempDir(), "")
	code := echoZip(t)
	readme := filepath.Join(t.TempDir(), "README")
	os.WriteFile(readme, []byte("hi"), 0o644)
	wrongArch := "arm64"
	if runtime.GOARCH == "arm64" {
		wrongArch = "amd64"
	}
	archDir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(archDir, "bootstrap"), "./testdata/echo")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+wrongArch)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cases := []struct {
		name string
		in   func(*lambda.CreateFunctionInput)
		want string
	}{
		{"python", func(in *lambda.CreateFunctionInput) { in.Runtime = types.RuntimePython312 }, "custom-runtime functions only"},
		{"reserved variable", func(in *lambda.CreateFunctionInput) { in.Environment.Variables["AWS_REGION"] = "x" }, "AWS_REGION"},
		{"no bootstrap", func(in *lambda.CreateFunctionInput) { in.Code.ZipFile = zipOf(t, "README", readme) }, "no bootstrap"},
		{"other arch", func(in *lambda.CreateFunctionInput) {
			in.Code.ZipFile = zipOf(t, "bootstrap", filepath.Join(archDir, "bootstrap"))
		}, "GOARCH=" + runtime.GOARCH},
		{"not a zip", func(in *lambda.CreateFunctionInput) { in.Code.ZipFile = []byte("plain") }, "not a zip"},
		{"code in S3", func(in *lambda.CreateFunctionInput) {
			in.Code = &types.FunctionCode{S3Bucket: aws.String("b"), S3Key: aws.String("k")}
		}, "--zip-file"},
		{"layer", func(in *lambda.CreateFunctionInput) { in.Layers = []string{"arn:aws:lambda:us-east-1:1:layer:x:1"} }, "no layers"},
		{"no role", func(in *lambda.CreateFunctionInput) { in.Role = aws.String("") }, "role"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := create("refused", code)
			tc.in(in)
			_, err := p.client.CreateFunction(ctx, in)
			if apiCode(err) != "InvalidParameterValueException" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want InvalidParameterValueException naming %q", err, tc.want)
			}
		})
	}
	if l, _ := p.client.ListFunctions(ctx, &lambda.ListFunctionsInput{}); len(l.Functions) != 0 {
		t.Fatalf("a refused create left %d functions", len(l.Functions))
	}
}

func rie(t *testing.T) string {
	t.Helper()
	s, err := server.Find(server.DefaultCacheDir())
	if err != nil {
		testenv.Missing(t, "the runtime interface emulator is missing in CI: "+err.Error(), "the runtime interface emulator is missing (make servers): "+err.Error())
	}
	return s.RIE
}

func TestFunctionsRunUnderTheEmulatorAndAnswerTheirURL(t *testing.T) {
	ctx := context.Background()
	p := start(t, t.TempDir(), rie(t))
	if _, err := p.client.CreateFunction(ctx, create("echo", echoZip(t))); err != nil {
		t.Fatal(err)
	}
	out, err := p.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	// The function's own variable wins over the lab's default; the region
	// is the plane's.
	if s := string(out.Payload); out.FunctionError != nil || !strings.Contains(s, `"greeting":"hello"`) || !strings.Contains(s, `"n":1`) || !strings.Contains(s, `"region":"us-east-1"`) {
		t.Fatalf("invoke: %s (function error %v)", out.Payload, aws.ToString(out.FunctionError))
	}
	u, err := p.client.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("echo"), AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(aws.ToString(u.FunctionUrl)+"carts/ann?x=1", "application/json", strings.NewReader(`{"sku":"a"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || string(body) != `hello POST /carts/ann {"sku":"a"}` || resp.Header.Get("X-Region") != "us-east-1" {
		t.Fatalf("URL: %s %q %v", resp.Status, body, resp.Header)
	}
	// A changed configuration reaches the next invocation.
	if _, err := p.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("echo"),
		Environment: &types.Environment{Variables: map[string]string{"GREETING": "changed"}}}); err != nil {
		t.Fatal(err)
	}
	out, err = p.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{}`)})
	if err != nil || !strings.Contains(string(out.Payload), `"greeting":"changed"`) {
		t.Fatalf("after the update: %s %v", out.Payload, err)
	}
	// Reserved concurrency 0 is the kill switch: invocations and the URL
	// are refused until it is lifted.
	if _, err := p.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("echo"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo")}); apiCode(err) != "TooManyRequestsException" {
		t.Fatalf("invoke with the kill switch on: %v", err)
	}
	if resp, err := http.Post(aws.ToString(u.FunctionUrl), "text/plain", nil); err != nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("URL with the kill switch on: %v %v", resp, err)
	}
	if _, err := p.client.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("echo")}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{}`)}); err != nil {
		t.Fatalf("invoke with the kill switch off again: %v", err)
	}
}
