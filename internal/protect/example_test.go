package protect_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/protect/inventory"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// The shop example (testdata/shop) is an application as a user has it:
// its functions compile against the guard package, and its create script —
// the AWS CLI, pointed at the lab's primary region — makes what scan then
// finds: the composite-key table with its index and items, the second
// table, the bucket, the two functions (one behind its URL), and no
// blocker.
func TestShopExample(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	vet := exec.Command("go", "vet", "./testdata/shop/functions/...")
	vet.Dir = root
	out, err := vet.CombinedOutput()
	if err != nil {
		t.Fatalf("the example's functions: %v\n%s", err, out)
	}
	awsCLI, err := exec.LookPath("aws")
	if err != nil {
		testenv.Missing(t, "no AWS CLI on PATH: CI must run the example's create script (.ci/run installs Debian's awscli)", "no AWS CLI on PATH: the example's create script is not run (the functions were checked)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	l := labtest.Lab(t)
	p, dr := labtest.Clients(t, 0)
	ep, err := l.Endpoints(p.Name)
	if err != nil {
		t.Fatal(err)
	}
	creds := l.Credentials()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "testdata", "shop", "create.sh"))
	cmd.Env = append(os.Environ(), "AWS="+awsCLI, "AWS_ENDPOINT_URL_DYNAMODB="+ep.DynamoDB, "AWS_ENDPOINT_URL_S3="+ep.S3, "AWS_ENDPOINT_URL_LAMBDA="+ep.Lambda,
		"AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey, "AWS_DEFAULT_REGION="+p.Name, "AWS_REGION="+p.Name)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("create.sh: %v\n%s", err, out)
	}
	inv, err := inventory.Scan(ctx, inventory.Source{Primary: p.Name, DR: dr.Name, DynamoDB: p.DynamoDB, S3: p.S3, Lambda: labtest.Lambda(t, p.Name)}, inventory.Selector{Prefix: "shop-"})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Tables) != 2 || inv.Tables[0].Name != "shop-carts" || len(inv.Tables[0].Keys) != 2 || len(inv.Tables[0].Indexes) != 1 || inv.Tables[0].Items != 3 {
		t.Fatalf("tables: %+v", inv.Tables)
	}
	if len(inv.Buckets) != 1 || inv.Buckets[0].Name != "shop-media" {
		t.Fatalf("buckets: %+v", inv.Buckets)
	}
	if len(inv.Functions) != 2 || inv.Functions[0].Name != "shop-cart-api" || inv.Functions[0].URLAuth != "NONE" || inv.Functions[1].Name != "shop-mailer" || inv.Functions[1].URL != "" {
		t.Fatalf("functions: %+v", inv.Functions)
	}
	if inv.Blockers() != 0 {
		var b strings.Builder
		inventory.WriteInventory(&b, inv)
		t.Fatalf("the example has blockers:\n%s", b.String())
	}
}
