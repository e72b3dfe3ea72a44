package awstarget

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/deploy"
	"github.com/pilotlight/pilotlight/internal/region"
)

// Account is a connection to AWS with the user's credentials.
type Account struct {
	cfg aws.Config
	// ID is the account's ID (bucket names carry it).
	ID string
}

// ConnectAccount loads credentials (settings' keys first, then the SDK's
// usual chain: environment, profile, SSO) and asks STS who they belong to.
func ConnectAccount(ctx context.Context, s config.Settings) (*Account, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(s.PrimaryRegion), awsconfig.WithLogger(logging.Nop{})}
	if s.AWSProfile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(s.AWSProfile))
	}
	if s.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, s.SessionToken)))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := cfg.Credentials.Retrieve(cctx); err != nil {
		return nil, credentialError(err)
	}
	// Recovery must need nothing from the failed primary region: ask the
	// DR region's STS first, and the primary's only when the DR region's
	// does not answer.
	var id *sts.GetCallerIdentityOutput
	for _, r := range []string{s.DRRegion, s.PrimaryRegion} {
		if r == "" {
			continue
		}
		id, err = sts.NewFromConfig(cfg, func(o *sts.Options) { o.Region = r }).GetCallerIdentity(cctx, &sts.GetCallerIdentityInput{})
		if err == nil {
			break
		}
	}
	if err != nil {
		return nil, credentialError(err)
	}
	return &Account{cfg: cfg, ID: aws.ToString(id.Account)}, nil
}

// credentialError turns the SDK's credential failures into what to do.
func credentialError(err error) error {
	var ae smithy.APIError
	msg := err.Error()
	switch {
	case strings.Contains(msg, "failed to retrieve credentials") || strings.Contains(msg, "no EC2 IMDS role found") || strings.Contains(msg, "get credentials"):
		return errors.New("no AWS credentials: put AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in .env or the environment, or configure a profile (aws configure, AWS_PROFILE)")
	case errors.As(err, &ae) && (ae.ErrorCode() == "ExpiredToken" || ae.ErrorCode() == "ExpiredTokenException" || ae.ErrorCode() == "RequestExpired"):
		return errors.New("your AWS session token has expired: get fresh credentials (aws sso login, or new temporary keys in .env) and run again")
	case errors.As(err, &ae) && (ae.ErrorCode() == "InvalidClientTokenId" || ae.ErrorCode() == "SignatureDoesNotMatch"):
		return fmt.Errorf("AWS rejected the credentials (%s): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", ae.ErrorCode())
	}
	return fmt.Errorf("check AWS credentials with STS: %w", err)
}

// Config is the SDK configuration (credentials, the primary's region).
func (a *Account) Config() aws.Config { return a.cfg }

// Names are the application's resource names in this account.
func (a *Account) Names(app string) region.Names { return region.Names{App: app, Account: a.ID} }

// Spec describes clients of region r (attempts 0: the SDK's retries).
func (a *Account) Spec(r string, attempts int) region.Spec {
	return region.Spec{Name: r, Credentials: a.cfg.Credentials, MaxAttempts: attempts, UserAgent: "pilotlight-cli"}
}

// CloudFormation is the CloudFormation client of region r.
func (a *Account) CloudFormation(r string) deploy.CloudFormation {
	return cloudformation.NewFromConfig(a.cfg, func(o *cloudformation.Options) { o.Region = r })
}

// S3 is the S3 client of region r.
func (a *Account) S3(r string) deploy.S3 {
	return s3.NewFromConfig(a.cfg, func(o *s3.Options) { o.Region = r })
}

// IAM is the (global) IAM client.
func (a *Account) IAM() *iam.Client { return iam.NewFromConfig(a.cfg) }

// Rules is the EventBridge client of region r.
func (a *Account) Rules(r string) deploy.Rules {
	return eventbridge.NewFromConfig(a.cfg, func(o *eventbridge.Options) { o.Region = r })
}

// FunctionEnv reads a deployed function's environment variables with
// Lambda's GetFunctionConfiguration in regionName.
func (a *Account) FunctionEnv(ctx context.Context, regionName, function string) (map[string]string, error) {
	c := lambda.NewFromConfig(a.cfg, func(o *lambda.Options) { o.Region = regionName })
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := c.GetFunctionConfiguration(cctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(function)})
	var nf *lambdatypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil, fmt.Errorf("%s does not exist in %s: run `pilotlight deploy` first", function, regionName)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s's configuration in %s: %w", function, regionName, err)
	}
	if out.Environment == nil {
		return map[string]string{}, nil
	}
	return out.Environment.Variables, nil
}

// TableExists reports whether a DynamoDB table exists in regionName
// (DescribeTable; ResourceNotFoundException is "no").
func (a *Account) TableExists(ctx context.Context, regionName, table string) (bool, error) {
	c := dynamodb.NewFromConfig(a.cfg, func(o *dynamodb.Options) { o.Region = regionName })
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err := c.DescribeTable(cctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var nf *ddbtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("describe table %s in %s: %w", table, regionName, err)
	}
	return true, nil
}

// StartBackup returns what starts the backup manager's scheduled run in a
// region: an asynchronous Lambda invocation with the schedule's request.
func (a *Account) StartBackup(names region.Names) func(ctx context.Context, regionName string) error {
	return func(ctx context.Context, regionName string) error {
		c := lambda.NewFromConfig(a.cfg, func(o *lambda.Options) { o.Region = regionName })
		_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(names.Function(region.FnBackup)),
			InvocationType: lambdatypes.InvocationTypeEvent, Payload: []byte(`{"action":"scheduled"}`)})
		return err
	}
}
