package apply_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/guard"
	"github.com/pilotlight/pilotlight/internal/awstest"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/deploy"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/protect"
	"github.com/pilotlight/pilotlight/internal/protect/apply"
	"github.com/pilotlight/pilotlight/internal/protect/inventory"
)

// replicaAnswers are DynamoDB's answers about a table's replica, which moto
// does not keep: UpdateTable with ReplicaUpdates starts creating (or
// deleting) the DR replica, and each DescribeTable after it moves it one
// step (CREATING → ACTIVE; DELETING → gone), in the shape DynamoDB gives.
func replicaAnswers(dr string) []awstest.Answer {
	var mu sync.Mutex
	state := ""
	target := func(r *http.Request) string { return r.Header.Get("X-Amz-Target") }
	with := func(body []byte, key string) []byte {
		var m map[string]map[string]any
		if json.Unmarshal(body, &m) != nil || m[key] == nil || state == "" {
			return body
		}
		m[key]["Replicas"] = []map[string]string{{"RegionName": dr, "ReplicaStatus": state}}
		b, _ := json.Marshal(m)
		return b
	}
	return []awstest.Answer{
		{Match: func(r *http.Request, body []byte) bool {
			return target(r) == "DynamoDB_20120810.UpdateTable" && bytes.Contains(body, []byte("ReplicaUpdates"))
		},
			Edit: func(_ *http.Response, body []byte) []byte {
				mu.Lock()
				defer mu.Unlock()
				if state == "" || state == "ACTIVE" {
					state = map[bool]string{true: "CREATING", false: "DELETING"}[state == ""]
				}
				return with(body, "TableDescription")
			}},
		{Match: func(r *http.Request, _ []byte) bool { return target(r) == "DynamoDB_20120810.DescribeTable" },
			Edit: func(_ *http.Response, body []byte) []byte {
				mu.Lock()
				defer mu.Unlock()
				out := with(body, "Table")
				switch state {
				case "CREATING":
					state = "ACTIVE"
				case "DELETING":
					state = ""
				}
				return out
			}},
	}
}

// codeAnswers point GetFunction's code location (moto's names a bucket
// of AWS's) at a local server holding the zip, as a presigned URL would.
func codeAnswers(t *testing.T, zips map[string][]byte) awstest.Answer {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(zips[strings.TrimPrefix(r.URL.Path, "/")])
	}))
	t.Cleanup(srv.Close)
	return awstest.Answer{
		Match: func(r *http.Request, _ []byte) bool {
			return r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/2015-03-31/functions/") && strings.Count(r.URL.Path, "/") == 3
		},
		Edit: func(resp *http.Response, body []byte) []byte {
			var m map[string]any
			if json.Unmarshal(body, &m) != nil || m["Code"] == nil {
				return body
			}
			name := m["Configuration"].(map[string]any)["FunctionName"].(string)
			m["Code"].(map[string]any)["Location"] = srv.URL + "/" + name
			b, _ := json.Marshal(m)
			return b
		}}
}

// protect apply and remove on AWS, driven through their own code: the
// data planes and Lambda in moto (an independent emulator), DynamoDB's
// replica answers recorded where moto keeps none, and fakes for the two
// control planes with no local server — CloudFormation (which holds an
// import to its rules) and S3 Batch Operations. Apply adds the replica and
// imports the table as a global table (an import of the tables alone,
// then the update that adds the roles), makes the replica bucket, adds
// pilotlight's replication rule and copies the objects already there,
// and gives the guarded function its DR copy. A bucket that replicates as
// another role is refused, and applying again resumes and changes nothing.
// remove takes it all back and leaves the user's table, bucket, function
// and data.
func TestApplyAndRemoveOnAWS(t *testing.T) {
	moto := awstest.Moto(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const primary, dr = "us-east-1", "us-west-2"
	ddbURL := awstest.Answers(t, moto, replicaAnswers(dr)...)
	code := awstest.Zip(t, "the cart service")
	lambdaURL := awstest.Answers(t, moto, codeAnswers(t, map[string][]byte{"shop-cart-api": code}))
	s3c := func(r string) *s3.Client {
		return s3.New(s3.Options{Region: r, BaseEndpoint: aws.String(moto), Credentials: awstest.Credentials, UsePathStyle: true})
	}
	lc := func(r string) *lambda.Client {
		return lambda.New(lambda.Options{Region: r, BaseEndpoint: aws.String(lambdaURL), Credentials: awstest.Credentials})
	}
	ddb := dynamodb.New(dynamodb.Options{Region: primary, BaseEndpoint: aws.String(ddbURL), Credentials: awstest.Credentials})
	ps3, ds3 := s3c(primary), s3c(dr)

	// The user's application: a table with items, a bucket with objects, a
	// function behind its URL.
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("shop-carts"), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{labtest.Attr("user", types.ScalarAttributeTypeS), labtest.Attr("line", types.ScalarAttributeTypeN)},
		KeySchema:            []types.KeySchemaElement{labtest.Key("user", types.KeyTypeHash), labtest.Key("line", types.KeyTypeRange)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("shop-carts"), Item: map[string]types.AttributeValue{
		"user": &types.AttributeValueMemberS{Value: "ann"}, "line": &types.AttributeValueMemberN{Value: "1"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ps3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shop-media")}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"images/cat.png", "thumbs/cat.png", "readme.txt"} {
		putObject(t, ctx, ps3, "shop-media", k)
	}
	role, err := iam.New(iam.Options{Region: primary, BaseEndpoint: aws.String(moto), Credentials: awstest.Credentials}).CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String("shop-role"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	pl, dl := lc(primary), lc(dr)
	if _, err := pl.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("shop-cart-api"), Role: role.Role.Arn, Runtime: lambdatypes.RuntimeProvidedal2023,
		Handler: aws.String("bootstrap"), Code: &lambdatypes.FunctionCode{ZipFile: code}, Tags: map[string]string{"app": "shop"},
		Environment: &lambdatypes.Environment{Variables: map[string]string{"SHOP_MODE": "live"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pl.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("shop-cart-api"), AuthType: lambdatypes.FunctionUrlAuthTypeNone}); err != nil {
		t.Fatal(err)
	}

	inv, err := inventory.Scan(ctx, inventory.Source{Primary: primary, DR: dr, DynamoDB: ddb, S3: ps3, Lambda: pl}, inventory.Selector{Prefix: "shop-"})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := protect.MakePlan(inv, protect.Options{App: "shop", Guarded: []string{"shop-cart-api"}, ControlTable: "pilotlight-control"})
	if err != nil || plan.Tier != protect.EpochGuard {
		t.Fatalf("plan: %v %v", plan.Tier, err)
	}
	cfn := newFakeCFN(func(r, typ string, props map[string]any) error {
		if typ != "AWS::S3::Bucket" {
			return nil
		}
		c := s3c(r)
		b := aws.String(props["BucketName"].(string))
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b, CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(r)}}); err != nil {
			return err
		}
		_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b, VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
		return err
	})
	batch := &fakeBatch{s3: ps3, replica: func(b string) string { return b + "-" + dr }, jobs: map[string]string{}, copied: map[string]int64{}, polls: map[string]int{}}
	instant := func(context.Context, time.Duration) error { return nil }
	var said []string
	target := apply.AWSTarget{Primary: primary, DR: dr, Account: "123456789012", PrimaryDB: ddb, PrimaryS3: ps3, DRS3: ds3, PrimaryLambda: pl, DRLambda: dl,
		Stacks: &deploy.Stacks{Client: cfn.client, Sleep: instant}, Batch: batch, Lease: control.AWSLease, Sleep: instant,
		Say: func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) }}

	// The bucket replicates already, as a role of the user's: refused,
	// after the table's steps (which a second apply finds done).
	if _, err := ps3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("shop-media"), VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	theirs := &s3types.ReplicationConfiguration{Role: aws.String("arn:aws:iam::123456789012:role/theirs"), Rules: []s3types.ReplicationRule{{ID: aws.String("backup"), Priority: aws.Int32(1),
		Status: s3types.ReplicationRuleStatusEnabled, Filter: &s3types.ReplicationRuleFilter{Prefix: aws.String("images/")},
		DeleteMarkerReplication: &s3types.DeleteMarkerReplication{Status: s3types.DeleteMarkerReplicationStatusDisabled},
		Destination:             &s3types.Destination{Bucket: aws.String("arn:aws:s3:::elsewhere")}}}}
	if _, err := ps3.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String("shop-media"), ReplicationConfiguration: theirs}); err != nil {
		t.Fatal(err)
	}
	if err := apply.AWS(ctx, plan, plan.Hash, target); err == nil || !strings.Contains(err.Error(), "role/theirs") {
		t.Fatalf("apply over another role's replication: %v", err)
	}
	if _, err := ps3.DeleteBucketReplication(ctx, &s3.DeleteBucketReplicationInput{Bucket: aws.String("shop-media")}); err != nil {
		t.Fatal(err)
	}

	said = nil
	if err := apply.AWS(ctx, plan, plan.Hash, target); err != nil {
		t.Fatal(err)
	}
	// The table: a global table with its replica, imported alone first.
	if got := strings.Join(cfn.calls, "\n"); !strings.Contains(got, primary+" IMPORT shop-protect-"+primary+"\n"+primary+" UPDATE shop-protect-"+primary) || !strings.Contains(got, dr+" CREATE shop-protect-"+dr) {
		t.Fatalf("CloudFormation calls:\n%s", got)
	}
	d, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("shop-carts")})
	if err != nil || len(d.Table.Replicas) != 1 || aws.ToString(d.Table.Replicas[0].RegionName) != dr || d.Table.Replicas[0].ReplicaStatus != types.ReplicaStatusActive {
		t.Fatalf("the table's replicas: %+v %v", d.Table.Replicas, err)
	}
	// The bucket: pilotlight's rule, as the stack's role, to the replica,
	// which holds the objects that were there.
	rep, err := ps3.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("shop-media")})
	if err != nil {
		t.Fatal(err)
	}
	rc := rep.ReplicationConfiguration
	if aws.ToString(rc.Role) != "arn:aws:iam::123456789012:role/shop-protect-"+primary+"-ReplicationRole" || len(rc.Rules) != 1 || aws.ToString(rc.Rules[0].ID) != apply.RuleID("shop") ||
		aws.ToString(rc.Rules[0].Destination.Bucket) != "arn:aws:s3:::shop-media-"+dr {
		t.Fatalf("replication: role %s, rules %+v", aws.ToString(rc.Role), rc.Rules)
	}
	for _, k := range []string{"images/cat.png", "thumbs/cat.png", "readme.txt"} {
		if !hasObject(ctx, ds3, "shop-media-"+dr, k) {
			t.Errorf("the replica lacks %s", k)
		}
	}
	// The function's DR copy, and the guard's variables on both.
	cp, err := dl.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("shop-cart-api")})
	if err != nil {
		t.Fatal(err)
	}
	orig, err := pl.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("shop-cart-api")})
	if err != nil {
		t.Fatal(err)
	}
	for name, g := range map[string]*lambda.GetFunctionOutput{"copy": cp, "function": orig} {
		v := g.Configuration.Environment.Variables
		if v["SHOP_MODE"] != "live" || v[guard.EnvControlTable] != "pilotlight-control" || v[guard.EnvLeaseTerm] != "20s" {
			t.Errorf("the %s's environment: %v", name, v)
		}
	}
	if cp.Tags[protect.CopyTag] != aws.ToString(orig.Configuration.FunctionArn) || aws.ToString(cp.Configuration.CodeSha256) != aws.ToString(orig.Configuration.CodeSha256) {
		t.Errorf("the copy: tags %v, code %s vs %s", cp.Tags, aws.ToString(cp.Configuration.CodeSha256), aws.ToString(orig.Configuration.CodeSha256))
	}
	if _, err := dl.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("shop-cart-api")}); err != nil {
		t.Errorf("the copy's URL: %v", err)
	}

	// Again: every step finds itself done; the same batch job is found.
	said, cfn.calls = nil, nil
	if err := apply.AWS(ctx, plan, plan.Hash, target); err != nil {
		t.Fatal(err)
	}
	if j := strings.Join(said, "\n"); strings.Contains(j, "adding") || strings.Contains(j, "creating") || strings.Contains(j, "enabling") || strings.Contains(j, "takes") || len(batch.jobs) != 1 {
		t.Errorf("a second apply (%d batch jobs):\n%s", len(batch.jobs), j)
	}
	if strings.Contains(strings.Join(cfn.calls, "\n"), "IMPORT") {
		t.Errorf("a second apply imported again: %v", cfn.calls)
	}
	// The function's memory changed since: check would say its copy
	// differs, and apply again is the fix.
	if _, err := pl.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("shop-cart-api"), MemorySize: aws.Int32(512)}); err != nil {
		t.Fatal(err)
	}
	if err := apply.AWS(ctx, plan, plan.Hash, target); err != nil {
		t.Fatal(err)
	}
	if c, err := dl.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("shop-cart-api")}); err != nil || aws.ToInt32(c.MemorySize) != 512 {
		t.Fatalf("the copy after the function's memory changed: %v %v", c, err)
	}

	if err := apply.RemoveAWS(ctx, plan, plan.Hash, target, true); err != nil {
		t.Fatal(err)
	}
	if _, err := dl.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("shop-cart-api")}); err == nil {
		t.Error("the DR copy is still there")
	}
	if g, err := pl.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("shop-cart-api")}); err != nil || len(g.Configuration.Environment.Variables) != 1 {
		t.Errorf("the user's function after remove: %v %v", g, err)
	}
	if _, err := ps3.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("shop-media")}); err == nil {
		t.Error("the bucket still replicates after remove")
	}
	if _, err := ds3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("shop-media-" + dr)}); err == nil {
		t.Error("the replica bucket is still there after remove --delete-replicas")
	}
	if d, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("shop-carts")}); err != nil || len(d.Table.Replicas) != 0 {
		t.Errorf("the table after remove: %v %v", d, err)
	}
	if len(cfn.stacks) != 0 {
		t.Errorf("stacks left: %v", cfn.stacks)
	}
	if out, err := ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("shop-carts")}); err != nil || out.Count != 1 {
		t.Errorf("the user's table after remove: %v %v", out, err)
	}
	if !hasObject(ctx, ps3, "shop-media", "images/cat.png") {
		t.Error("the user's bucket lost an object")
	}
}
