package apply_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/pilotlight/pilotlight/guard"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/protect"
	"github.com/pilotlight/pilotlight/internal/protect/apply"
	"github.com/pilotlight/pilotlight/internal/protect/inventory"
)

// labLambda is a client of a lab region's Lambda control plane.

// shopZip builds one of the shop example's functions as a user deploys
// it: a bootstrap for provided.al2023, zipped.
func shopZip(t *testing.T, fn string) []byte {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", filepath.Join(dir, "bootstrap"), "./testdata/shop/functions/"+fn)
	cmd.Dir = "../../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", fn, err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, _ := zw.CreateHeader(h)
	w.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A user's function adopted in the lab: apply makes its DR copy from the
// code it downloads (the same code, configuration, tags and URL), gives a
// guarded function and its copy the control table and the lease, resumes
// without change, and never overwrites a function of the same name that
// is not its copy. The copy runs: its guard refuses the write (no region
// holds this test lab's lease) and names why. remove deletes only the copy
// and takes the guard's variables off the user's function, leaving its own.
func TestApplyGivesAFunctionItsDRCopy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	names := labtest.Provision(t, "fn")
	p, dr := labtest.Clients(t, 0)
	pl, dl := labtest.Lambda(t, p.Name), labtest.Lambda(t, dr.Name)
	fn := names.App + "-cart-api"
	code := shopZip(t, "carts")
	if _, err := pl.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(fn), Runtime: lambdatypes.RuntimeProvidedal2023,
		Role: aws.String("arn:aws:iam::000000000000:role/shop"), Handler: aws.String("bootstrap"), Code: &lambdatypes.FunctionCode{ZipFile: code},
		Tags: map[string]string{"app": "shop"}, Environment: &lambdatypes.Environment{Variables: map[string]string{"SHOP_MODE": "live"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pl.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String(fn), AuthType: lambdatypes.FunctionUrlAuthTypeNone}); err != nil {
		t.Fatal(err)
	}
	src := inventory.Source{Primary: p.Name, DR: dr.Name, DynamoDB: p.DynamoDB, S3: p.S3, Lambda: pl}
	inv, err := inventory.Scan(ctx, src, inventory.Selector{Names: []string{fn}})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Functions) != 1 || inv.Functions[0].URL == "" || inv.Functions[0].Runtime != "provided.al2023" || inv.Blockers() != 0 {
		t.Fatalf("scan: %+v", inv.Functions)
	}
	var said []string
	target := apply.LabTarget{Primary: p.Name, DR: dr.Name, PrimaryDB: p.DynamoDB, DRDB: dr.DynamoDB, PrimaryS3: p.S3, DRS3: dr.S3,
		PrimaryLambda: pl, DRLambda: dl, Lease: control.LabLease,
		Say: func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) }}

	// The kill-switch tier is refused: nothing would lift its switch.
	ks, err := protect.MakePlan(inv, protect.Options{App: "shop", ControlTable: names.ControlTable()})
	if err != nil || ks.Tier != protect.KillSwitch {
		t.Fatalf("plan: %v %v", ks.Tier, err)
	}
	if err := apply.Lab(ctx, ks, ks.Hash, target); err == nil || !strings.Contains(err.Error(), "kill-switch") {
		t.Fatalf("a kill-switch plan was applied: %v", err)
	}
	// A function of that name in the DR region that is not the copy.
	if _, err := dl.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(fn), Runtime: lambdatypes.RuntimeProvidedal2023,
		Role: aws.String("arn:aws:iam::000000000000:role/other"), Code: &lambdatypes.FunctionCode{ZipFile: code}}); err != nil {
		t.Fatal(err)
	}
	plan, err := protect.MakePlan(inv, protect.Options{App: "shop", Guarded: []string{fn}, ControlTable: names.ControlTable()})
	if err != nil || plan.Tier != protect.EpochGuard {
		t.Fatalf("plan: %v %v", plan.Tier, err)
	}
	if err := apply.Lab(ctx, plan, plan.Hash, target); err == nil || !strings.Contains(err.Error(), "not pilotlight's copy") {
		t.Fatalf("apply over someone else's function: %v", err)
	}
	if _, err := dl.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(fn)}); err != nil {
		t.Fatal(err)
	}

	if err := apply.Lab(ctx, plan, plan.Hash, target); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"SHOP_MODE": "live", guard.EnvControlTable: names.ControlTable(), guard.EnvLeaseTerm: "2s", guard.EnvClockEpsilon: "250ms", guard.EnvWriteDeadline: "750ms"}
	orig, err := pl.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn)})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := dl.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn)})
	if err != nil {
		t.Fatal(err)
	}
	for region, g := range map[string]*lambda.GetFunctionOutput{p.Name: orig, dr.Name: cp} {
		if got := g.Configuration.Environment.Variables; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("the environment in %s: %v, want %v", region, got, want)
		}
	}
	if aws.ToString(cp.Configuration.CodeSha256) != aws.ToString(orig.Configuration.CodeSha256) || aws.ToString(cp.Configuration.Role) != aws.ToString(orig.Configuration.Role) ||
		cp.Tags["app"] != "shop" || cp.Tags[protect.CopyTag] != aws.ToString(orig.Configuration.FunctionArn) {
		t.Fatalf("the copy: %+v tags %v", cp.Configuration, cp.Tags)
	}
	u, err := dl.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String(fn)})
	if err != nil || u.AuthType != lambdatypes.FunctionUrlAuthTypeNone {
		t.Fatalf("the copy's URL: %v %v", u, err)
	}
	// The copy runs, and its guard fences it: no lease, no write.
	resp, err := http.Post(aws.ToString(u.FunctionUrl), "application/json", strings.NewReader(`{"user":"ann","line":1,"sku":"a","qty":1}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "does not accept writes") {
		t.Fatalf("the copy's URL answered %s %q, want 503 from its guard", resp.Status, body)
	}
	// Again: nothing to do.
	said = nil
	if err := apply.Lab(ctx, plan, plan.Hash, target); err != nil {
		t.Fatal(err)
	}
	if j := strings.Join(said, "\n"); strings.Contains(j, "creating") || strings.Contains(j, "setting") {
		t.Errorf("a second apply changed something:\n%s", j)
	}

	if err := apply.RemoveLab(ctx, plan, plan.Hash, target, false); err != nil {
		t.Fatal(err)
	}
	if _, err := dl.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn)}); err == nil {
		t.Error("the DR copy is still there after remove")
	}
	after, err := pl.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn)})
	if err != nil {
		t.Fatal(err)
	}
	if got := after.Configuration.Environment.Variables; len(got) != 1 || got["SHOP_MODE"] != "live" {
		t.Fatalf("the user's function after remove: environment %v, want its own SHOP_MODE only", got)
	}
}
