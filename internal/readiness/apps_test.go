package readiness_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/awstest"
	"github.com/pilotlight/pilotlight/internal/drill/report"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/readiness"
	"github.com/pilotlight/pilotlight/internal/region"
)

// A protected application is ready to fail over when its tables are in
// both regions alike, its buckets' replicas are there and versioned, and
// each function's DR copy has its code and configuration: each missing
// piece fails its check, naming it, and a function deployed again since
// apply (its copy left on the old build) fails too.
func TestProtectedApplicationChecks(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the lab")
	}
	ctx := context.Background()
	p, d := labtest.Clients(t, 0)
	prefix := "rdyapp" + time.Now().Format("150405")
	table, bucket, replica := prefix+"-carts", prefix+"-media", prefix+"-media-"+west
	createTable := func(c *region.Clients) {
		t.Helper()
		if _, err := c.DynamoDB.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: dbtypes.BillingModePayPerRequest,
			AttributeDefinitions: []dbtypes.AttributeDefinition{{AttributeName: aws.String("user"), AttributeType: dbtypes.ScalarAttributeTypeS}},
			KeySchema:            []dbtypes.KeySchemaElement{{AttributeName: aws.String("user"), KeyType: dbtypes.KeyTypeHash}},
			StreamSpecification:  &dbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: dbtypes.StreamViewTypeNewAndOldImages}}); err != nil {
			t.Fatal(err)
		}
	}
	createBucket := func(c *region.Clients, name string) {
		t.Helper()
		if err := region.CreateBucket(ctx, c.S3, name, c.Name); err != nil {
			t.Fatal(err)
		}
		if _, err := c.S3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(name),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
			t.Fatal(err)
		}
	}
	moto := awstest.Moto(t)
	role, err := iam.New(iam.Options{Region: east, BaseEndpoint: aws.String(moto), Credentials: awstest.Credentials}).CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String("shop"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	lc := map[string]readiness.FunctionReader{}
	createFunction := func(r, build string) {
		t.Helper()
		c := lambda.New(lambda.Options{Region: r, BaseEndpoint: aws.String(moto), Credentials: awstest.Credentials})
		lc[r] = c
		c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("shop-api")})
		if _, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("shop-api"), Role: role.Role.Arn, Runtime: lambdatypes.RuntimeProvidedal2023,
			Handler: aws.String("bootstrap"), Code: &lambdatypes.FunctionCode{ZipFile: awstest.Zip(t, build)}}); err != nil {
			t.Fatal(err)
		}
	}
	createTable(p)
	createBucket(p, bucket)
	createFunction(east, "build 1")
	lc[west] = lambda.New(lambda.Options{Region: west, BaseEndpoint: aws.String(moto), Credentials: awstest.Credentials})
	in := readiness.Input{Primary: east, DR: west, Clients: map[string]*region.Clients{east: p, west: d}, History: report.History{Dir: t.TempDir()},
		Apps: []readiness.App{{Name: "shop", Tier: "epoch-guard", Tables: []string{table}, Buckets: map[string]string{bucket: replica}, Functions: []string{"shop-api"}, Lambda: lc}}}

	// Nothing in the DR region yet.
	r := readiness.Run(ctx, in)
	want(t, r, "app shop: tables", readiness.Fail, table)
	want(t, r, "app shop: buckets", readiness.Fail, replica)
	want(t, r, "app shop: functions", readiness.Fail, "shop-api ("+west+")")

	createTable(d)
	createBucket(d, replica)
	createFunction(west, "build 1")
	r = readiness.Run(ctx, in)
	want(t, r, "app shop: tables", readiness.Pass, "1 table(s) alike")
	want(t, r, "app shop: buckets", readiness.Pass, "1 bucket(s)")
	want(t, r, "app shop: functions", readiness.Pass, "1 function(s)")

	// The function deployed again in the primary; its copy is not.
	createFunction(east, "build 2")
	r = readiness.Run(ctx, in)
	want(t, r, "app shop: functions", readiness.Fail, "code SHA-256")
	if res := result(t, r, "app shop: functions"); !strings.Contains(res.Fix, "protect apply again") {
		t.Fatalf("the fix: %q", res.Fix)
	}
}
