package protect_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/awstest"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/protect"
	"github.com/pilotlight/pilotlight/internal/protect/inventory"
)

// On AWS, scan reads the user's functions through the Lambda control plane
// (moto_server here; DynamoDB and S3 through moto too, an independent
// emulator): runtime, architecture, URL and its auth, environment names
// (never values), event sources; and plan turns them into DR copies (at
// reserved concurrency 0 at the kill-switch tier), refusing what it
// cannot copy.
func TestScanAndPlanOnAWS(t *testing.T) {
	url := awstest.Moto(t)
	ctx := context.Background()
	const primary, dr = "us-east-1", "us-west-2"
	ep := aws.String(url)
	role, err := iam.New(iam.Options{Region: primary, BaseEndpoint: ep, Credentials: awstest.Credentials}).CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String("shop-role"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	lc := lambda.New(lambda.Options{Region: primary, BaseEndpoint: ep, Credentials: awstest.Credentials})
	ddb := dynamodb.New(dynamodb.Options{Region: primary, BaseEndpoint: ep, Credentials: awstest.Credentials})
	s3c := s3.New(s3.Options{Region: primary, BaseEndpoint: ep, Credentials: awstest.Credentials, UsePathStyle: true})
	fn := func(name string, rt lambdatypes.Runtime, env map[string]string) {
		t.Helper()
		if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Role: role.Role.Arn, Runtime: rt, Handler: aws.String("bootstrap"),
			MemorySize: aws.Int32(256), Timeout: aws.Int32(10), Architectures: []lambdatypes.Architecture{lambdatypes.ArchitectureArm64},
			Code: &lambdatypes.FunctionCode{ZipFile: awstest.Zip(t, name)}, Environment: &lambdatypes.Environment{Variables: env}}); err != nil {
			t.Fatal(err)
		}
	}
	fn("shop-api", lambdatypes.RuntimeProvidedal2023, map[string]string{"DB_PASSWORD": "hunter2", "TABLE": "shop-carts"})
	if _, err := lc.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("shop-api"), AuthType: lambdatypes.FunctionUrlAuthTypeNone}); err != nil {
		t.Fatal(err)
	}
	fn("shop-mailer", lambdatypes.RuntimeProvidedal2023, nil)
	fn("other-app", lambdatypes.RuntimeProvidedal2023, nil)
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("shop-carts"), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{labtest.Attr("user", types.ScalarAttributeTypeS), labtest.Attr("line", types.ScalarAttributeTypeN)},
		KeySchema:            []types.KeySchemaElement{labtest.Key("user", types.KeyTypeHash), labtest.Key("line", types.KeyTypeRange)},
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shop-media")}); err != nil {
		t.Fatal(err)
	}
	src := inventory.Source{Primary: primary, DR: dr, DynamoDB: ddb, S3: s3c, Lambda: lc}
	inv, err := inventory.Scan(ctx, src, inventory.Selector{Prefix: "shop-"})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Functions) != 2 || inv.Functions[0].Name != "shop-api" || inv.Functions[1].Name != "shop-mailer" {
		t.Fatalf("functions: %+v", inv.Functions)
	}
	api := inv.Functions[0]
	if api.URLAuth != "NONE" || api.Architecture != "arm64" || api.Runtime != "provided.al2023" || api.Memory != 256 {
		t.Errorf("shop-api: %+v", api)
	}
	if strings.Join(api.Environment, ",") != "DB_PASSWORD,TABLE" {
		t.Errorf("environment names: %v", api.Environment)
	}
	if len(inv.Tables) != 1 || len(inv.Buckets) != 1 || len(inv.Skipped) != 0 {
		t.Fatalf("tables %d, buckets %d, skipped %v", len(inv.Tables), len(inv.Buckets), inv.Skipped)
	}

	// Only shop-api is guarded: epoch guard is refused, kill switch given.
	o := protect.Options{App: "shop", ControlTable: "pl-control", Guarded: []string{"shop-api"}}
	p, err := protect.MakePlan(inv, o)
	if err != nil || p.Tier != protect.KillSwitch {
		t.Fatalf("plan: %s %v", p.Tier, err)
	}
	var steps strings.Builder
	p.WriteText(&steps)
	for _, want := range []string{"reserved concurrency 0 until a failover", "a function URL (NONE)", "on failover: reserved concurrency 0"} {
		if !strings.Contains(steps.String(), want) {
			t.Errorf("the plan does not say %q:\n%s", want, steps.String())
		}
	}
	if b, _ := json.Marshal(p); strings.Contains(string(b), "hunter2") {
		t.Fatal("an environment value (a secret) was written into the plan")
	}
	o.Tier = protect.EpochGuard
	if _, err := protect.MakePlan(inv, o); err == nil || !strings.Contains(err.Error(), "shop-mailer") {
		t.Fatalf("epoch guard with shop-mailer unguarded: %v", err)
	}

	// A bucket encrypted with a customer managed key is a blocker until
	// the plan is given the DR region's key.
	if _, err := s3c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String("shop-media"), ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{
		Rules: []s3types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String("arn:aws:kms:us-east-1:123456789012:key/k")}}}}}); err != nil {
		t.Fatal(err)
	}
	inv, err = inventory.Scan(ctx, src, inventory.Selector{Prefix: "shop-"})
	if err != nil {
		t.Fatal(err)
	}
	o.Tier = ""
	if _, err := protect.MakePlan(inv, o); err == nil || !strings.Contains(err.Error(), "--replica-key shop-media") {
		t.Fatalf("an SSE-KMS bucket without a replica key: %v", err)
	}
	o.ReplicaKeys = map[string]string{"shop-media": "arn:aws:kms:us-west-2:123456789012:key/r"}
	if _, err := protect.MakePlan(inv, o); err != nil {
		t.Fatalf("with the replica key: %v", err)
	}
}
