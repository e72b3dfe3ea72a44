package inventory_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/protect/inventory"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// An application that is not the orders service, created in the lab's
// primary region with the SDK as a user would: scan finds exactly it (not
// pilotlight's own resources, not another application's), reads what DR
// depends on, and names each blocker with its fix.
func TestScanFindsTheApplicationAndWhatBlocksIt(t *testing.T) {
	ctx := labtest.Context(t)
	names := labtest.Provision(t, "scn")
	p, dr := labtest.Clients(t, 0)
	app := names.App + "shop-"
	ddb := p.DynamoDB
	// carts: string partition key, number sort key, a GSI, on demand, a
	// stream of the right view type.
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(app + "carts"), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{labtest.Attr("user", types.ScalarAttributeTypeS), labtest.Attr("line", types.ScalarAttributeTypeN), labtest.Attr("sku", types.ScalarAttributeTypeS)},
		KeySchema:            []types.KeySchemaElement{labtest.Key("user", types.KeyTypeHash), labtest.Key("line", types.KeyTypeRange)},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{IndexName: aws.String("by-sku"), KeySchema: []types.KeySchemaElement{labtest.Key("sku", types.KeyTypeHash)},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}}},
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}}); err != nil {
		t.Fatal(err)
	}
	// users: a stream of the wrong view type (a blocker: it cannot change
	// in place) on provisioned capacity (another).
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(app + "users"),
		AttributeDefinitions:  []types.AttributeDefinition{labtest.Attr("id", types.ScalarAttributeTypeS)},
		KeySchema:             []types.KeySchemaElement{labtest.Key("id", types.KeyTypeHash)},
		ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(5), WriteCapacityUnits: aws.Int64(5)},
		StreamSpecification:   &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeKeysOnly}}); err != nil {
		t.Fatal(err)
	}
	// Another application's table: not picked by the filter.
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(names.App + "other-t"), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{labtest.Attr("id", types.ScalarAttributeTypeS)}, KeySchema: []types.KeySchemaElement{labtest.Key("id", types.KeyTypeHash)}}); err != nil {
		t.Fatal(err)
	}
	bucket := strings.ToLower(app + "media")
	if _, err := p.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"images/a.png", "thumbs/a.png", "readme.txt"} {
		if _, err := p.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}

	src := inventory.Source{Primary: p.Name, DR: dr.Name, DynamoDB: p.DynamoDB, S3: p.S3,
		Exclude: func(n string) bool { return strings.HasPrefix(n, names.App+"-") }}
	inv, err := inventory.Scan(ctx, src, inventory.Selector{Prefix: app})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Tables) != 2 || inv.Tables[0].Name != app+"carts" || inv.Tables[1].Name != app+"users" {
		t.Fatalf("tables: %+v, want carts and users only", inv.Tables)
	}
	carts, users := inv.Tables[0], inv.Tables[1]
	if len(carts.Keys) != 2 || carts.Keys[0] != (inventory.Key{Name: "user", Type: "S", Role: "HASH"}) || carts.Keys[1] != (inventory.Key{Name: "line", Type: "N", Role: "RANGE"}) {
		t.Errorf("carts' keys: %+v", carts.Keys)
	}
	if len(carts.Indexes) != 1 || carts.Indexes[0].Name != "by-sku" || carts.Indexes[0].Projection != "KEYS_ONLY" {
		t.Errorf("carts' indexes: %+v", carts.Indexes)
	}
	if carts.Billing != "PAY_PER_REQUEST" || carts.Stream != "NEW_AND_OLD_IMAGES" {
		t.Errorf("carts: billing %s, stream %s", carts.Billing, carts.Stream)
	}
	blockers := func(fs []inventory.Finding) string {
		var out []string
		for _, f := range fs {
			if f.Severity == inventory.Blocker {
				out = append(out, f.Problem+" / "+f.Fix)
			}
		}
		return strings.Join(out, "\n")
	}
	if b := blockers(carts.Findings); b != "" {
		t.Errorf("carts has blockers: %s", b)
	}
	b := blockers(users.Findings)
	for _, want := range []string{"KEYS_ONLY", "disable the stream and enable it with NEW_AND_OLD_IMAGES", "provisioned capacity", "on-demand"} {
		if !strings.Contains(b, want) {
			t.Errorf("users' blockers do not say %q:\n%s", want, b)
		}
	}
	if len(inv.Buckets) != 1 || inv.Buckets[0].Name != bucket || inv.Buckets[0].Versioning == "Enabled" {
		t.Fatalf("buckets: %+v", inv.Buckets)
	}
	if f := inv.Buckets[0].Findings; len(f) == 0 || f[0].Severity != inventory.Change || !strings.Contains(f[0].Problem, "versioning") {
		t.Errorf("an unversioned bucket: %+v, want a change enabling versioning", f)
	}
	if len(inv.Skipped) != 1 || !strings.Contains(inv.Skipped[0], "Lambda") {
		t.Errorf("functions not listed without saying so: %v", inv.Skipped)
	}
	if inv.Blockers() != 2 {
		t.Errorf("%d blockers, want 2", inv.Blockers())
	}
	if _, err := inventory.Scan(ctx, src, inventory.Selector{}); err == nil {
		t.Error("a scan without a filter was accepted")
	}
	if _, err := inventory.Scan(ctx, inventory.Source{Primary: p.Name, DR: p.Name, DynamoDB: ddb, S3: p.S3}, inventory.Selector{Prefix: app}); err == nil {
		t.Error("the same region twice was accepted")
	}
}
