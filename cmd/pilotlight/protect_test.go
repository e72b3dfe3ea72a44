package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/lab/remote"
	"github.com/pilotlight/pilotlight/internal/protect"
	"github.com/pilotlight/pilotlight/internal/protect/inventory"
)

// protect scan and plan on the lab, as a user runs them: their own table
// and bucket, created with the SDK in the primary region, are found (and
// pilotlight's own are not), a blocker sets the exit status, the plan is
// written with its hash, and the ARC export beside it.
func TestProtectCommands(t *testing.T) {
	requireServers(t)
	dir := t.TempDir()
	labDir := filepath.Join(dir, ".lab")
	t.Cleanup(func() { remote.Stop(labDir) })
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
	p := clients["us-east-1"]
	create := func(name string, view types.StreamViewType) {
		t.Helper()
		if _, err := p.DynamoDB.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("user"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("line"), AttributeType: types.ScalarAttributeTypeN}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("user"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("line"), KeyType: types.KeyTypeRange}},
			StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: view}}); err != nil {
			t.Fatal(err)
		}
	}
	create("shop-carts", types.StreamViewTypeNewAndOldImages)
	if _, err := p.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shop-media")}); err != nil {
		t.Fatal(err)
	}

	r := runCLI(t, dir, nil, "protect", "scan", "--prefix", "shop-", "--json")
	var inv inventory.Inventory
	if err := json.Unmarshal([]byte(r.out), &inv); err != nil || r.code != 0 {
		t.Fatalf("scan: exit %d, %v\n%s%s", r.code, err, r.out, r.err)
	}
	if len(inv.Tables) != 1 || inv.Tables[0].Name != "shop-carts" || len(inv.Buckets) != 1 || inv.Buckets[0].Name != "shop-media" {
		t.Fatalf("scan found %+v", inv)
	}
	if r := runCLI(t, dir, nil, "protect", "scan", "--prefix", st.Names().App); r.code != 0 || strings.Contains(r.out, "table    "+st.Names().Table()) {
		t.Errorf("pilotlight's own resources were scanned: exit %d\n%s", r.code, r.out)
	}
	if r := runCLI(t, dir, nil, "protect", "scan", "--tag", "app"); r.code != 2 || !strings.Contains(r.err, "KEY=VALUE") {
		t.Errorf("--tag without a value: exit %d, %q", r.code, r.err)
	}

	out := filepath.Join(dir, "plan.json")
	arc := filepath.Join(dir, "arc.json")
	r = runCLI(t, dir, nil, "protect", "plan", "--prefix", "shop-", "--app", "shop", "--out", out, "--arc", arc)
	if r.code != 0 || !strings.Contains(r.out, "Fencing tier: routing-only") || !strings.Contains(r.out, "--approve ") {
		t.Fatalf("plan: exit %d\n%s%s", r.code, r.out, r.err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var plan protect.Plan
	if err := json.Unmarshal(b, &plan); err != nil {
		t.Fatal(err)
	}
	if err := plan.Verify(plan.Hash); err != nil || !strings.Contains(r.out, plan.Hash) {
		t.Fatalf("the written plan: %v (hash %s not printed?)", err, plan.Hash)
	}
	if a, err := os.ReadFile(arc); err != nil || !strings.Contains(string(a), "AWS::ARCRegionSwitch::Plan") {
		t.Fatalf("ARC export: %v", err)
	}
	if r := runCLI(t, dir, nil, "protect", "plan", "--prefix", "shop-", "--app", "shop", "--tier", "epoch-guard"); r.code != 1 || !strings.Contains(r.err, "allows routing-only at most") {
		t.Errorf("epoch guard without guarded writers: exit %d, %q", r.code, r.err)
	}

	// apply: refused with another plan's hash; the table and the bucket
	// are adopted, and validate --table says both regions hold the table.
	if _, err := p.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("shop-carts"), Item: map[string]types.AttributeValue{
		"user": &types.AttributeValueMemberS{Value: "ann"}, "line": &types.AttributeValueMemberN{Value: "1"}}}); err != nil {
		t.Fatal(err)
	}
	tables := filepath.Join(dir, "tables.json")
	if r := runCLI(t, dir, nil, "protect", "plan", "--name", "shop-carts", "--app", "shop", "--out", tables); r.code != 0 {
		t.Fatalf("plan of the table: exit %d, %s", r.code, r.err)
	}
	if r := runCLI(t, dir, nil, "protect", "apply", "--plan", tables, "--approve", plan.Hash); r.code != 1 || !strings.Contains(r.err, "is not this plan's") {
		t.Errorf("apply with another plan's hash: exit %d, %q", r.code, r.err)
	}
	if r := runCLI(t, dir, nil, "drill", "--app", "shop"); r.code != 2 || !strings.Contains(r.err, "protect scan → plan → apply first") {
		t.Errorf("drill --app before apply: exit %d, %q", r.code, r.err)
	}
	if r := runCLI(t, dir, nil, "protect", "apply", "--plan", out, "--approve", plan.Hash); r.code != 0 ||
		!strings.Contains(r.err, "1 items already there copied") || !strings.Contains(r.err, "objects are in shop-media-us-west-2") ||
		!strings.Contains(r.out, "pilotlight drill --app shop") {
		t.Fatalf("apply: exit %d\n%s%s", r.code, r.out, r.err)
	}
	applied := filepath.Join(dir, ".pilotlight", "protect", "shop.applied.json")
	if _, err := os.Stat(applied); err != nil {
		t.Fatalf("apply kept no record for drill --app: %v", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"drill", "--app", "shop", "--app-table", "shop-users"}, "does not protect it"},
		{[]string{"drill", "--app-item", "{}"}, "go with --app NAME"},
		{[]string{"drill", "--app", "shop", "--scenario", "failback-lag"}, "orders service"},
	} {
		if r := runCLI(t, dir, nil, tc.args...); r.code == 0 || !strings.Contains(r.err, tc.want) {
			t.Errorf("%v: exit %d, %q, want %q", tc.args, r.code, r.err, tc.want)
		}
	}
	r = runCLI(t, dir, nil, "validate", "--table", "shop-carts", "--settle", "5s", "--json")
	var rep struct {
		Items map[string]int64 `json:"items"`
	}
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil || r.code != 0 || rep.Items["us-east-1"] != 1 || rep.Items["us-west-2"] != 1 {
		t.Fatalf("validate --table after apply: exit %d, %v\n%s%s", r.code, err, r.out, r.err)
	}
	// status lists the application.
	if r := runCLI(t, dir, nil, "status"); !strings.Contains(r.out, "protected: shop (routing-only) — tables shop-carts; buckets shop-media; functions none") {
		t.Errorf("status does not list the protected application:\n%s%s", r.out, r.err)
	}
	// check reads the application: its table alike in both regions, its
	// bucket's replica versioned.
	r = runCLI(t, dir, nil, "check", "--json")
	var ready struct {
		Results []struct{ Check, Status, Detail string } `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.out), &ready); err != nil {
		t.Fatalf("check --json: %v\n%s%s", err, r.out, r.err)
	}
	seen := 0
	for _, res := range ready.Results {
		if strings.HasPrefix(res.Check, "app shop: ") {
			seen++
			if res.Status != "PASS" {
				t.Errorf("check %s: %s %s", res.Check, res.Status, res.Detail)
			}
		}
	}
	if seen != 2 {
		t.Errorf("check read %d of the application's checks (tables, buckets), want 2:\n%s", seen, r.out)
	}
	// backup --app snapshots the application's table, and restores it.
	r = runCLI(t, dir, nil, "backup", "create", "--app", "shop", "--json")
	var man struct {
		Table     string `json:"table"`
		ItemCount int64  `json:"item_count"`
	}
	if err := json.Unmarshal([]byte(r.out), &man); err != nil || r.code != 0 || man.Table != "shop-carts" || man.ItemCount != 1 {
		t.Fatalf("backup create --app: exit %d, %v, %+v\n%s", r.code, err, man, r.err)
	}
	if r := runCLI(t, dir, nil, "backup", "restore", "--app", "shop", "--table", "shop-carts-restored"); r.code != 0 || !strings.Contains(r.out, "1 items, digest matches") {
		t.Fatalf("backup restore --app: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if r := runCLI(t, dir, nil, "backup", "list", "--app", "shop", "--app-table", "shop-users"); r.code != 2 || !strings.Contains(r.err, "does not protect it") {
		t.Errorf("backup of a table the application does not protect: exit %d, %q", r.code, r.err)
	}
	if r := runCLI(t, dir, nil, "protect", "remove", "--plan", out, "--approve", plan.Hash, "--delete-replicas"); r.code != 0 ||
		!strings.Contains(r.err, "replica in us-west-2 deleted") || !strings.Contains(r.err, "replica shop-media-us-west-2 in us-west-2 deleted") {
		t.Fatalf("remove: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if _, err := clients["us-west-2"].S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("shop-media-us-west-2")}); err == nil {
		t.Error("the replica bucket survived remove --delete-replicas")
	}
	if _, err := os.Stat(applied); err == nil {
		t.Error("remove kept the applied record: drill --app would drill an application no longer protected")
	}
	if _, err := clients["us-west-2"].DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("shop-carts")}); err == nil {
		t.Error("the replica survived remove --delete-replicas")
	}
	if _, err := p.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("shop-carts")}); err != nil {
		t.Errorf("remove touched the user's own table: %v", err)
	}

	// A table whose stream has the wrong view type blocks: exit 1, and the
	// plan refuses, naming the fix.
	create("shop-users", types.StreamViewTypeKeysOnly)
	if r := runCLI(t, dir, nil, "protect", "scan", "--prefix", "shop-"); r.code != 1 || !strings.Contains(r.out, "blocker") || !strings.Contains(r.out, "NEW_AND_OLD_IMAGES") {
		t.Errorf("scan with a blocker: exit %d\n%s", r.code, r.out)
	}
	if r := runCLI(t, dir, nil, "protect", "plan", "--prefix", "shop-", "--app", "shop"); r.code != 1 || !strings.Contains(r.err, "shop-users") {
		t.Errorf("plan with a blocker: exit %d, %q", r.code, r.err)
	}
}
