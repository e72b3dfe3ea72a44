package apply_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/lab/replication"
	"github.com/pilotlight/pilotlight/internal/protect"
	"github.com/pilotlight/pilotlight/internal/protect/apply"
	"github.com/pilotlight/pilotlight/internal/protect/inventory"
	"github.com/pilotlight/pilotlight/internal/validate"
)

// A user's table and bucket adopted in the lab by scan → plan → apply:
// the table's replica in the DR region holds every item (the validator
// says so, composite key and all), the bucket's replica every object, new
// writes replicate, and applying again changes nothing. A plan edited
// after review, or with what the lab cannot adopt (a function), changes
// nothing. remove stops replication and never touches the user's table or
// bucket.
func TestApplyAdoptsATableInTheLab(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	l := labtest.Lab(t)
	names := labtest.Provision(t, "apl")
	p, dr := labtest.Clients(t, 0)
	table := names.App + "shop-carts"
	if _, err := p.DynamoDB.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{labtest.Attr("user", types.ScalarAttributeTypeS), labtest.Attr("line", types.ScalarAttributeTypeN), labtest.Attr("sku", types.ScalarAttributeTypeS)},
		KeySchema:            []types.KeySchemaElement{labtest.Key("user", types.KeyTypeHash), labtest.Key("line", types.KeyTypeRange)},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{IndexName: aws.String("by-sku"), KeySchema: []types.KeySchemaElement{labtest.Key("sku", types.KeyTypeHash)},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}}}}); err != nil {
		t.Fatal(err)
	}
	line := func(user string, n int) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"user": &types.AttributeValueMemberS{Value: user}, "line": &types.AttributeValueMemberN{Value: fmt.Sprint(n)}, "sku": &types.AttributeValueMemberS{Value: "sku-" + user}}
	}
	var items []map[string]types.AttributeValue
	for i := range 60 {
		items = append(items, line(fmt.Sprintf("u%02d", i%12), i))
	}
	labtest.PutItems(t, ctx, p, table, items...)

	src := inventory.Source{Primary: p.Name, DR: dr.Name, DynamoDB: p.DynamoDB, S3: p.S3}
	bucket := names.App + "-shop-media"
	if _, err := p.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"images/cat.png", "thumbs/cat.png", "readme.txt"} {
		putObject(t, ctx, p.S3, bucket, k)
	}
	inv, err := inventory.Scan(ctx, src, inventory.Selector{Names: []string{table, bucket}})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := protect.MakePlan(inv, protect.Options{App: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	var said []string
	target := apply.LabTarget{Primary: p.Name, DR: dr.Name, PrimaryDB: p.DynamoDB, DRDB: dr.DynamoDB, PrimaryS3: p.S3, DRS3: dr.S3,
		Replicate: func(ctx context.Context, a apply.Replicated) error { return l.Replicate(ctx, replication.Adopted(a)) },
		StopReplicating: func(ctx context.Context, a apply.Replicated) error {
			return l.StopReplicating(ctx, replication.Adopted(a))
		},
		Say: func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) }}

	// Refusals first: nothing may change.
	if err := apply.Lab(ctx, plan, "0000000000000000", target); err == nil {
		t.Fatal("a plan was applied without its approved hash")
	}
	edited := plan
	edited.Inventory.Buckets = append(edited.Inventory.Buckets, inventory.Bucket{Name: "another"})
	if err := apply.Lab(ctx, edited, edited.Hash, target); err == nil {
		t.Fatal("an edited plan was applied")
	}
	invF := inv
	invF.Functions = []inventory.Function{{Name: "carts", Runtime: "provided.al2023", PackageType: "Zip", Architecture: "arm64"}}
	withFunction, err := protect.MakePlan(invF, protect.Options{App: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if err := apply.Lab(ctx, withFunction, withFunction.Hash, target); err == nil || !strings.Contains(err.Error(), "Lambda") {
		t.Fatalf("a plan with a function was applied in the lab: %v", err)
	}
	if _, err := dr.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err == nil {
		t.Fatal("a refused apply created the replica")
	}

	if err := apply.Lab(ctx, plan, plan.Hash, target); err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(said, "\n")
	replica := bucket + "-" + dr.Name
	for _, want := range []string{"enabling its stream", "creating its replica in " + dr.Name, "60 items already there copied",
		"enabling versioning", replica + ": creating it in " + dr.Name, "its 3 objects are in " + replica} {
		if !strings.Contains(joined, want) {
			t.Errorf("apply did not say %q:\n%s", want, joined)
		}
	}
	d, err := dr.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil || len(d.Table.GlobalSecondaryIndexes) != 1 || len(d.Table.KeySchema) != 2 {
		t.Fatalf("the replica: %v %+v", err, d)
	}
	// New writes replicate both ways.
	labtest.PutItems(t, ctx, p, table, line("new-in-primary", 1))
	labtest.PutItems(t, ctx, dr, table, line("new-in-dr", 1))
	v := &validate.Validator{Primary: validate.Side{Region: p.Name, DB: p.DynamoDB, Table: table}, DR: validate.Side{Region: dr.Name, DB: dr.DynamoDB, Table: table}, Settle: 10 * time.Second}
	// The first run's differences settle (replication in flight) and it is
	// clean; the second, after them, counts every item in both.
	rep, err := v.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Clean() {
		t.Fatalf("after apply: missing in DR %+v, missing in primary %+v, divergent %+v", rep.MissingInDR, rep.MissingInPrimary, rep.Divergent)
	}
	if rep, err = v.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if !rep.Clean() || rep.Items[p.Name] != 62 || rep.Items[dr.Name] != 62 {
		t.Fatalf("after apply: clean %v, items %v, missing in DR %+v, missing in primary %+v", rep.Clean(), rep.Items, rep.MissingInDR, rep.MissingInPrimary)
	}
	// Applying again resumes: nothing to do, nothing overwritten.
	said = nil
	if err := apply.Lab(ctx, plan, plan.Hash, target); err != nil {
		t.Fatal(err)
	}
	if joined := strings.Join(said, "\n"); !strings.Contains(joined, "0 items already there copied") || strings.Contains(joined, "creating") || strings.Contains(joined, "enabling") {
		t.Errorf("a second apply:\n%s", joined)
	}
	// The bucket: versioned now, and a new object reaches the replica.
	if v, err := p.S3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)}); err != nil || v.Status != s3types.BucketVersioningStatusEnabled {
		t.Fatalf("the bucket's versioning after apply: %v %v", v, err)
	}
	putObject(t, ctx, p.S3, bucket, "images/new.png")
	waitFor(t, ctx, "the new object in the replica", func() bool { return hasObject(ctx, dr.S3, replica, "images/new.png") })

	// remove: replication stops (a new write stays in the primary), the
	// primary's table and items are untouched, and with --delete-replicas
	// the DR copy goes.
	if err := apply.RemoveLab(ctx, plan, plan.Hash, target, false); err != nil {
		t.Fatal(err)
	}
	labtest.PutItems(t, ctx, p, table, line("after-remove", 1))
	putObject(t, ctx, p.S3, bucket, "images/after-remove.png")
	v.Settle = 2 * time.Second // more than the lab's replication takes: it would have arrived
	rep, err = v.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Items[p.Name] != 63 || rep.Items[dr.Name] != 62 || rep.MissingInDR.Count != 1 {
		t.Fatalf("after remove: items %v, missing in DR %+v: replication should have stopped", rep.Items, rep.MissingInDR)
	}
	if hasObject(ctx, dr.S3, replica, "images/after-remove.png") {
		t.Error("an object written after remove reached the replica")
	}
	if !hasObject(ctx, dr.S3, replica, "images/new.png") {
		t.Error("remove without --delete-replicas emptied the replica")
	}
	if err := apply.RemoveLab(ctx, plan, plan.Hash, target, true); err != nil {
		t.Fatal(err)
	}
	if _, err := dr.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(replica)}); err == nil {
		t.Error("the replica bucket is still there after remove --delete-replicas")
	}
	for _, k := range []string{"images/cat.png", "images/new.png", "images/after-remove.png"} {
		if !hasObject(ctx, p.S3, bucket, k) {
			t.Errorf("the user's bucket lost %s", k)
		}
	}
	if _, err := dr.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err == nil {
		t.Error("the DR replica is still there after remove --delete-replicas")
	}
	if out, err := p.DynamoDB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), Select: types.SelectCount}); err != nil || out.Count != 63 {
		t.Fatalf("the user's table after remove: %v items, %v", out, err)
	}
}

func putObject(t *testing.T, ctx context.Context, c *s3.Client, bucket, key string) {
	t.Helper()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(key)}); err != nil {
		t.Fatal(err)
	}
}

func hasObject(ctx context.Context, c *s3.Client, bucket, key string) bool {
	_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	return err == nil
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
