package main

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
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/deploy"
	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/region"
)

// target is a resolved deployment: the running lab, or an AWS account.
type target struct {
	settings    config.Settings
	names       region.Names
	primary, dr string
	clients     map[string]*region.Clients // with the SDK's retries
	lab         *lab.Client                // the lab only
	aws         *awsAccount                // AWS only
}

// resolveTarget reads settings and connects to the lab or to AWS.
func resolveTarget(g *globals, cmd *cobra.Command) (*target, error) {
	s, err := g.settings(cmd)
	if err != nil {
		return nil, err
	}
	if s.Target == config.TargetAWS {
		a, err := connectAWS(cmd.Context(), s)
		if err != nil {
			return nil, err
		}
		t := &target{settings: s, names: a.names, primary: s.PrimaryRegion, dr: s.DRRegion, aws: a, clients: map[string]*region.Clients{}}
		for _, r := range []string{t.primary, t.dr} {
			if t.clients[r], err = region.New(a.spec(r, 0)); err != nil {
				return nil, err
			}
		}
		return t, nil
	}
	cl, err := lab.Connect(s.LabDir)
	if err != nil {
		return nil, err
	}
	clients, err := cl.State.Clients(0)
	if err != nil {
		return nil, err
	}
	return &target{settings: s, names: cl.State.Names(), primary: cl.State.Primary, dr: cl.State.DR, clients: clients, lab: cl}, nil
}

// controller builds the failover controller an operator's command drives.
func (t *target) controller() (*failover.Controller, error) {
	if t.lab != nil {
		return t.lab.Controller()
	}
	probes := map[string]*region.Clients{}
	for _, r := range []string{t.primary, t.dr} {
		c, err := region.New(t.aws.spec(r, 1))
		if err != nil {
			return nil, err
		}
		probes[r] = c
	}
	stores := map[string]*control.Store{}
	for r, c := range probes {
		stores[r] = control.New(c, t.names)
	}
	return &failover.Controller{
		Stores: stores, Probe: failover.RegionProber{Clients: probes, Names: t.names},
		Verifier: failover.WriteVerifier(probes, t.names),
		// On AWS the global table replicates; objects replicate by S3's own
		// rules, which pilotlight cannot see drain: the table canary is the
		// signal, and the validator checks objects afterwards.
		Drain:        failover.TableDrainer{Clients: t.clients, Names: t.names, Timeout: 5 * time.Minute},
		FenceTimeout: 5 * time.Second, AgreementWait: 30 * time.Second,
	}, nil
}

// invoke calls one of the deployment's functions in a region and returns
// its response: the lab's emulator, or Lambda on AWS.
func (t *target) invoke(ctx context.Context, regionName, function string, payload []byte) ([]byte, error) {
	if t.lab != nil {
		return t.lab.Invoke(ctx, regionName, function, payload)
	}
	c := lambda.NewFromConfig(t.aws.cfg, func(o *lambda.Options) { o.Region = regionName })
	name := t.names.Function(function)
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: payload})
	if err != nil {
		return nil, fmt.Errorf("invoke %s in %s: %w", name, regionName, err)
	}
	if out.FunctionError != nil {
		return nil, fmt.Errorf("%s in %s failed (%s): %s", name, regionName, aws.ToString(out.FunctionError), out.Payload)
	}
	return out.Payload, nil
}

// setFailbackReplication turns the lab's DR → primary object replication
// on or off around a failback. On AWS replication rules are the stacks'.
func (t *target) setFailbackReplication(on bool) error {
	if t.lab == nil {
		return nil
	}
	return t.lab.SetFailbackReplication(on)
}

// awsAccount is a connection to AWS with the user's credentials.
type awsAccount struct {
	cfg     aws.Config
	account string
	names   region.Names
}

// connectAWS loads credentials (settings' keys first, then the SDK's usual
// chain: environment, profile, SSO) and asks STS who they belong to.
func connectAWS(ctx context.Context, s config.Settings) (*awsAccount, error) {
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
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(cctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, credentialError(err)
	}
	acct := aws.ToString(id.Account)
	return &awsAccount{cfg: cfg, account: acct, names: region.Names{App: s.AppName, Account: acct}}, nil
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

func (a *awsAccount) spec(r string, attempts int) region.Spec {
	return region.Spec{Name: r, Credentials: a.cfg.Credentials, MaxAttempts: attempts, UserAgent: "pilotlight-cli"}
}

func (a *awsAccount) cloudFormation(r string) deploy.CloudFormation {
	return cloudformation.NewFromConfig(a.cfg, func(o *cloudformation.Options) { o.Region = r })
}

func (a *awsAccount) s3(r string) deploy.S3 {
	return s3.NewFromConfig(a.cfg, func(o *s3.Options) { o.Region = r })
}

func (a *awsAccount) iam() *iam.Client { return iam.NewFromConfig(a.cfg) }

func (a *awsAccount) rules(r string) deploy.Rules {
	return eventbridge.NewFromConfig(a.cfg, func(o *eventbridge.Options) { o.Region = r })
}
