package protect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/awstest"
	"github.com/pilotlight/pilotlight/internal/deploy"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/protect"
	"github.com/pilotlight/pilotlight/internal/protect/inventory"
)

// On AWS every preflight refusal stops the plan, naming the resource and
// the fix — against moto where it can make the case, and recorded answers
// (awstest.Answers) where it cannot: a legacy global table, a function
// whose code cannot be downloaded or read. Each case's fixed form (a
// replica key, write auto scaling) plans, and its CloudFormation passes
// cfn-lint.
func TestPlanOnAWSRefusesEveryBlocker(t *testing.T) {
	moto := awstest.Moto(t)
	const primary, dr = "us-east-1", "us-west-2"
	// The recorded answers: DescribeTable of a 2017.11.29 global table;
	// GetFunction without a code location, and refused.
	url := awstest.Answers(t, moto,
		awstest.Answer{
			Match: func(r *http.Request, body []byte) bool {
				return r.Header.Get("X-Amz-Target") == "DynamoDB_20120810.DescribeTable" && bytes.Contains(body, []byte(`"legacy-orders"`))
			},
			Edit: editJSON(func(m map[string]any) { m["Table"].(map[string]any)["GlobalTableVersion"] = "2017.11.29" }),
		},
		awstest.Answer{
			Match: func(r *http.Request, _ []byte) bool {
				return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/functions/nocode-api")
			},
			Edit: editJSON(func(m map[string]any) { delete(m["Code"].(map[string]any), "Location") }),
		},
		awstest.Answer{
			Match: func(r *http.Request, _ []byte) bool {
				return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/functions/refused-api")
			},
			Edit: refused("lambda:GetFunction"),
		},
		// A layer of another account, not shared with this one.
		awstest.Answer{
			Match: func(r *http.Request, _ []byte) bool {
				return r.Method == http.MethodGet && r.URL.Query().Get("find") == "LayerVersion" && strings.Contains(r.URL.Query().Get("Arn"), ":layer:vendor-sdk:")
			},
			Edit: refused("lambda:GetLayerVersion"),
		},
	)
	ctx := context.Background()
	ep := aws.String(url)
	ddb := dynamodb.New(dynamodb.Options{Region: primary, BaseEndpoint: ep, Credentials: awstest.Credentials})
	s3c := s3.New(s3.Options{Region: primary, BaseEndpoint: ep, Credentials: awstest.Credentials, UsePathStyle: true})
	lc := lambda.New(lambda.Options{Region: primary, BaseEndpoint: ep, Credentials: awstest.Credentials})
	as := applicationautoscaling.New(applicationautoscaling.Options{Region: primary, BaseEndpoint: ep, Credentials: awstest.Credentials})
	cmk, err := kms.New(kms.Options{Region: primary, BaseEndpoint: ep, Credentials: awstest.Credentials}).CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	role, err := iam.New(iam.Options{Region: primary, BaseEndpoint: ep, Credentials: awstest.Credentials}).CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String("app-role"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	table := func(name string, mod func(*dynamodb.CreateTableInput)) func(t *testing.T) {
		return func(t *testing.T) {
			in := &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: types.BillingModePayPerRequest,
				AttributeDefinitions: []types.AttributeDefinition{labtest.Attr("id", types.ScalarAttributeTypeS)},
				KeySchema:            []types.KeySchemaElement{labtest.Key("id", types.KeyTypeHash)},
				StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}}
			if mod != nil {
				mod(in)
			}
			if _, err := ddb.CreateTable(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
	}
	function := func(name string, mod func(*lambda.CreateFunctionInput)) func(t *testing.T) {
		return func(t *testing.T) {
			in := &lambda.CreateFunctionInput{FunctionName: aws.String(name), Role: role.Role.Arn, Runtime: lambdatypes.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
				Code: &lambdatypes.FunctionCode{ZipFile: awstest.Zip(t, name)}}
			if mod != nil {
				mod(in)
			}
			if _, err := lc.CreateFunction(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
	}
	noURLs := deploy.NoFunctionURLs[0]
	for _, tc := range []struct {
		name   string
		dr     string // "": us-west-2
		create func(t *testing.T)
		want   string
		// fix makes the case plan (nil: it stays a blocker until the
		// resource changes).
		fix func(t *testing.T, o *protect.Options)
	}{
		{name: "keys-only", create: table("keys-only", func(in *dynamodb.CreateTableInput) {
			in.StreamSpecification.StreamViewType = types.StreamViewTypeKeysOnly
		}), want: "view type is KEYS_ONLY"},
		{name: "legacy-orders", create: table("legacy-orders", nil), want: "version 2017.11.29"},
		{name: "cmk-orders", create: table("cmk-orders", func(in *dynamodb.CreateTableInput) {
			in.SSESpecification = &types.SSESpecification{Enabled: aws.Bool(true), SSEType: types.SSETypeKms, KMSMasterKeyId: cmk.KeyMetadata.Arn}
		}), want: "customer managed KMS key", fix: func(_ *testing.T, o *protect.Options) {
			o.ReplicaKeys = map[string]string{"cmk-orders": "arn:aws:kms:us-west-2:123456789012:key/replica"}
		}},
		{name: "provisioned-orders", create: table("provisioned-orders", func(in *dynamodb.CreateTableInput) {
			in.BillingMode = types.BillingModeProvisioned
			in.ProvisionedThroughput = &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(5), WriteCapacityUnits: aws.Int64(5)}
		}), want: "without write auto scaling", fix: func(t *testing.T, _ *protect.Options) {
			if _, err := as.RegisterScalableTarget(ctx, &applicationautoscaling.RegisterScalableTargetInput{ServiceNamespace: astypes.ServiceNamespaceDynamodb,
				ResourceId: aws.String("table/provisioned-orders"), ScalableDimension: astypes.ScalableDimensionDynamoDBTableWriteCapacityUnits,
				MinCapacity: aws.Int32(5), MaxCapacity: aws.Int32(100)}); err != nil {
				t.Fatal(err)
			}
			if _, err := as.PutScalingPolicy(ctx, &applicationautoscaling.PutScalingPolicyInput{PolicyName: aws.String("writes"), ServiceNamespace: astypes.ServiceNamespaceDynamodb,
				ResourceId: aws.String("table/provisioned-orders"), ScalableDimension: astypes.ScalableDimensionDynamoDBTableWriteCapacityUnits, PolicyType: astypes.PolicyTypeTargetTrackingScaling,
				TargetTrackingScalingPolicyConfiguration: &astypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(60),
					PredefinedMetricSpecification: &astypes.PredefinedMetricSpecification{PredefinedMetricType: astypes.MetricTypeDynamoDBWriteCapacityUtilization}}}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "kms-media", create: func(t *testing.T) {
			if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("kms-media")}); err != nil {
				t.Fatal(err)
			}
			if _, err := s3c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String("kms-media"), ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{
				Rules: []s3types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAwsKms, KMSMasterKeyID: cmk.KeyMetadata.Arn}}}}}); err != nil {
				t.Fatal(err)
			}
		}, want: "SSE-KMS objects replicate only with a replica key", fix: func(_ *testing.T, o *protect.Options) {
			o.ReplicaKeys = map[string]string{"kms-media": "arn:aws:kms:us-west-2:123456789012:key/replica"}
		}},
		{name: "old-api", create: function("old-api", func(in *lambda.CreateFunctionInput) { in.Runtime = lambdatypes.RuntimeGo1x }),
			want: "runtime go1.x is deprecated"},
		{name: "image-api", create: function("image-api", func(in *lambda.CreateFunctionInput) {
			in.PackageType, in.Runtime, in.Handler = lambdatypes.PackageTypeImage, "", nil
			in.Code = &lambdatypes.FunctionCode{ImageUri: aws.String("123456789012.dkr.ecr.us-east-1.amazonaws.com/image-api:1")}
		}), want: "container image function"},
		{name: "url-api", dr: noURLs, create: func(t *testing.T) {
			function("url-api", nil)(t)
			if _, err := lc.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("url-api"), AuthType: lambdatypes.FunctionUrlAuthTypeAwsIam}); err != nil {
				t.Fatal(err)
			}
		}, want: noURLs + " has no Lambda function URLs"},
		{name: "nocode-api", create: function("nocode-api", nil), want: "GetFunction gave no code location"},
		{name: "refused-api", create: function("refused-api", nil), want: "GetFunction was refused"},
		{name: "layered-api", create: func(t *testing.T) {
			l, err := lc.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("vendor-sdk"), Content: &lambdatypes.LayerVersionContentInput{ZipFile: awstest.Zip(t, "sdk")}})
			if err != nil {
				t.Fatal(err)
			}
			function("layered-api", func(in *lambda.CreateFunctionInput) { in.Layers = []string{aws.ToString(l.LayerVersionArn)} })(t)
		}, want: "layer arn:aws:lambda:us-east-1:123456789012:layer:vendor-sdk:1 cannot be read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.create(t)
			d := dr
			if tc.dr != "" {
				d = tc.dr
			}
			src := inventory.Source{Primary: primary, DR: d, DynamoDB: ddb, S3: s3c, Lambda: lc, AutoScaling: as,
				Now: func() time.Time { return time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC) }}
			sel := inventory.Selector{Names: []string{tc.name}}
			inv, err := inventory.Scan(ctx, src, sel)
			if err != nil {
				t.Fatal(err)
			}
			if inv.Blockers() != 1 {
				var b strings.Builder
				inventory.WriteInventory(&b, inv)
				t.Fatalf("%d blockers, want 1:\n%s", inv.Blockers(), b.String())
			}
			var b strings.Builder
			inventory.WriteInventory(&b, inv)
			if !strings.Contains(b.String(), tc.want) {
				t.Fatalf("scan does not say %q:\n%s", tc.want, b.String())
			}
			o := protect.Options{App: "app", ControlTable: "pl-control", AllGuarded: true}
			if _, err := protect.MakePlan(inv, o); err == nil || !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("plan: %v, want a refusal naming %s and %q", err, tc.name, tc.want)
			}
			if tc.fix == nil {
				return
			}
			tc.fix(t, &o)
			if inv, err = inventory.Scan(ctx, src, sel); err != nil {
				t.Fatal(err)
			}
			p, err := protect.MakePlan(inv, o)
			if err != nil {
				t.Fatalf("plan after the fix: %v", err)
			}
			protect.LintPlan(t, p)
		})
	}
}

// refused is Lambda's answer to a call the caller may not make.
func refused(action string) func(*http.Response, []byte) []byte {
	return func(resp *http.Response, _ []byte) []byte {
		resp.StatusCode = http.StatusForbidden
		resp.Header.Set("X-Amzn-ErrorType", "AccessDeniedException")
		return []byte(`{"Type":"User","Message":"not authorized to perform ` + action + `"}`)
	}
}

// editJSON edits a JSON answer's body.
func editJSON(f func(map[string]any)) func(*http.Response, []byte) []byte {
	return func(_ *http.Response, body []byte) []byte {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return body
		}
		f(m)
		out, _ := json.Marshal(m)
		return out
	}
}
