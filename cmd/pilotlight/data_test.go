package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotlight/pilotlight/internal/backup"
	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/lab/remote"
	"github.com/pilotlight/pilotlight/internal/validate/verdict"
)

func TestDataCommands(t *testing.T) {
	requireServers(t)
	dir := t.TempDir()
	labDir := filepath.Join(dir, ".lab")
	t.Cleanup(func() { remote.Stop(labDir) })

	if r := runCLI(t, dir, nil, "validate"); r.code != 2 || !strings.Contains(r.err, "lab up") {
		t.Fatalf("validate without a lab: exit %d, %q", r.code, r.err)
	}
	if r := runCLI(t, dir, nil, "lab", "up"); r.code != 0 {
		t.Fatalf("lab up: %s", r.err)
	}
	st, err := remote.ReadState(labDir)
	if err != nil {
		t.Fatal(err)
	}
	clients, err := st.Clients(0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	put := func(id string) {
		t.Helper()
		if _, err := clients["us-east-1"].DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(st.Names().Table()),
			Item: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: id}, "v": &types.AttributeValueMemberN{Value: "1.50"}}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		put(fmt.Sprintf("order#%03d", i))
	}
	// Replication is fast in the lab; the settle window covers it.
	r := runCLI(t, dir, nil, "validate", "--settle", "5s", "--json")
	var rep verdict.Report
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil || r.code != 0 || !rep.Clean() || rep.Items["us-east-1"] != 50 {
		t.Fatalf("validate after replication: exit %d, %v\n%s%s", r.code, err, r.out, r.err)
	}

	if r := runCLI(t, dir, nil, "lab", "replication", "pause"); r.code != 0 {
		t.Fatal(r.err)
	}
	put("order#unreplicated")
	r = runCLI(t, dir, nil, "validate", "--settle", "0", "--no-objects")
	if r.code != 1 || !strings.Contains(r.out, "DIVERGENT") || !strings.Contains(r.out, "1 items missing in us-west-2, e.g. order#unreplicated") {
		t.Fatalf("validate with replication paused: exit %d\n%s%s", r.code, r.out, r.err)
	}
	// Fanned out by hand: two segment ranges, merged.
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	if r := runCLI(t, dir, nil, "validate", "--segments", "4", "--segment-range", "0-1", "--out", a); r.code != 0 {
		t.Fatal(r.err)
	}
	if r := runCLI(t, dir, nil, "validate", "--segments", "4", "--segment-range", "2-3", "--out", b); r.code != 0 {
		t.Fatal(r.err)
	}
	r = runCLI(t, dir, nil, "validate", "--settle", "0", "--no-objects", "--merge", a+","+b)
	if r.code != 1 || !strings.Contains(r.out, "order#unreplicated") {
		t.Fatalf("merged validate: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if r := runCLI(t, dir, nil, "validate", "--merge", a); r.code != 2 || !strings.Contains(r.err, "in no partial") {
		t.Fatalf("merge of one range: exit %d %q", r.code, r.err)
	}
	if r := runCLI(t, dir, nil, "lab", "replication", "resume"); r.code != 0 {
		t.Fatal(r.err)
	}

	r = runCLI(t, dir, nil, "backup", "create", "--json")
	var man backup.Manifest
	if err := json.Unmarshal([]byte(r.out), &man); err != nil || man.ItemCount != 51 || man.Epoch != 1 {
		t.Fatalf("backup create: %v %+v\n%s", err, man, r.err)
	}
	if r := runCLI(t, dir, nil, "backup", "list"); !strings.Contains(r.out, man.ID) || !strings.Contains(r.out, "not in the lab") {
		t.Fatalf("backup list:\n%s%s", r.out, r.err)
	}
	if r := runCLI(t, dir, nil, "backup", "restore", "--table", "orders-copy"); r.code != 0 || !strings.Contains(r.out, "51 items, digest matches") {
		t.Fatalf("restore: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if r := runCLI(t, dir, nil, "backup", "restore", "--table", "orders-copy"); r.code != 2 || !strings.Contains(r.err, "--force") {
		t.Fatalf("restore over a table: exit %d %q", r.code, r.err)
	}
	if r := runCLI(t, dir, nil, "backup", "restore", "--table", "orders-copy", "--force", "--snapshot", man.ID); r.code != 2 || !strings.Contains(r.err, "pass --yes with --force") {
		t.Fatalf("restore --force without --yes from a script: exit %d %q", r.code, r.err)
	}
	if r := runCLI(t, dir, nil, "backup", "restore", "--table", "orders-copy", "--force", "--yes", "--snapshot", man.ID); r.code != 0 {
		t.Fatalf("restore --force: %s", r.err)
	}
	if r := runCLI(t, dir, nil, "backup", "restore"); r.code != 2 || !strings.Contains(r.err, `"table" not set`) {
		t.Fatalf("restore without --table: exit %d %q", r.code, r.err)
	}
	if r := runCLI(t, dir, nil, "backup", "verify", "--region", "eu-west-1"); r.code != 2 || !strings.Contains(r.err, "not one of this deployment's regions (us-east-1, us-west-2)") {
		t.Fatalf("verify in an unknown region: exit %d %q", r.code, r.err)
	}
	if r := runCLI(t, dir, nil, "backup", "verify"); r.code != 0 || !strings.Contains(r.out, "PASS") {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if r := runCLI(t, dir, nil, "backup", "create", "--native"); r.code != 2 || !strings.Contains(r.err, "DynamoDB Local has no CreateBackup") {
		t.Fatalf("native backup in the lab: exit %d %q", r.code, r.err)
	}
	if r := runCLI(t, dir, nil, "backup", "prune", "--max-age", "a week"); r.code != 2 || !strings.Contains(r.err, "30d") {
		t.Fatalf("prune with a bad age: exit %d %q", r.code, r.err)
	}
	if r := runCLI(t, dir, nil, "backup", "prune", "--keep", "1", "--dry-run"); r.code != 0 || !strings.Contains(r.out, "would remove 0 snapshot(s), kept 1") {
		t.Fatalf("prune dry run: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if r := runCLI(t, dir, nil, "backup", "prune", "--keep", "1"); r.code != 2 || !strings.Contains(r.err, "refusing without confirmation") {
		t.Fatalf("prune from a script without --yes: exit %d %q", r.code, r.err)
	}
	if r := runCLI(t, dir, nil, "backup", "prune", "--keep", "1", "--yes"); r.code != 0 || !strings.Contains(r.out, "kept 1") {
		t.Fatalf("prune --yes: exit %d\n%s%s", r.code, r.out, r.err)
	}
}

// TestValidateFanOut runs the digest pass as invocations of the real
// data-validator function in the lab, then one to compare.
func TestValidateFanOut(t *testing.T) {
	requireServers(t)
	if testing.Short() {
		t.Skip("builds the functions")
	}
	fns := t.TempDir()
	for _, fn := range lab.FunctionNames {
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", filepath.Join(fns, fn, "bootstrap"), "./lambda/"+fn)
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", fn, err, out)
		}
	}
	dir := t.TempDir()
	labDir := filepath.Join(dir, ".lab")
	t.Cleanup(func() { remote.Stop(labDir) })
	env := []string{"PILOTLIGHT_FUNCTIONS_DIR=" + fns}
	if r := runCLI(t, dir, env, "lab", "up"); r.code != 0 {
		t.Fatalf("lab up: %s", r.err)
	}
	st, err := remote.ReadState(labDir)
	if err != nil {
		t.Fatal(err)
	}
	clients, err := st.Clients(0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 40 {
		if _, err := clients["us-west-2"].DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(st.Names().Table()),
			Item: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: fmt.Sprintf("dr-only#%02d", i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if r := runCLI(t, dir, env, "lab", "replication", "pause"); r.code != 0 {
		t.Fatal(r.err)
	}
	// Written in the DR region while replication is paused: 40 items the
	// primary may or may not have yet, and one it surely does not.
	if _, err := clients["us-west-2"].DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(st.Names().Table()),
		Item: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "dr-only#late"}}}); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, dir, env, "validate", "--fan-out", "3", "--segments", "6", "--settle", "0", "--no-objects", "--json")
	var rep verdict.Report
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatalf("exit %d, %v\n%s%s", r.code, err, r.out, r.err)
	}
	// The late item is missing in the primary, and so are those replication
	// had not applied when it paused (an apply in flight may still land
	// between the two passes, hence at most).
	if missing := rep.MissingInPrimary.Count; r.code != 1 || rep.Items["us-west-2"] != 41 || missing < 1 || missing > 41-rep.Items["us-east-1"] || rep.Objects != nil || rep.Settled != 0 {
		t.Fatalf("fan-out validate: exit %d, %+v", r.code, rep)
	}
	// Progress is for terminals: under --json (and in CI, and into a
	// pipe) stderr carries none.
	if strings.Contains(r.err, "scanned") {
		t.Fatalf("progress under --json: %q", r.err)
	}
	if r := runCLI(t, dir, env, "validate", "--fan-out", "9", "--segments", "4"); r.code != 2 || !strings.Contains(r.err, "more than --segments") {
		t.Fatalf("fan-out wider than the segments: exit %d %q", r.code, r.err)
	}
}
