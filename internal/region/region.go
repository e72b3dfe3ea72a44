package region

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Service names a regional AWS service whose endpoint can be overridden.
type Service string

// Services pilotlight talks to.
const (
	DynamoDB Service = "dynamodb"
	Streams  Service = "streams"
	S3       Service = "s3"
)

// Spec says how to reach one region.
type Spec struct {
	Name        string
	Credentials aws.CredentialsProvider
	// Endpoints overrides the endpoint of a service, e.g. the lab's proxy
	// address. Streams falls back to the DynamoDB endpoint, as DynamoDB Local
	// serves both.
	Endpoints map[Service]string
	// MaxAttempts per call; 1 for probes, which must see failures as they are.
	// 0 keeps the SDK default.
	MaxAttempts int
	// DialTimeout bounds connection setup; 0 means 2s. Call deadlines come
	// from the caller's context.
	DialTimeout time.Duration
	// Local marks a lab region: path-style S3 addressing and no response
	// checksum validation (DynamoDB Local omits x-amz-crc32 on errors).
	Local bool
	// UserAgent is appended to every call's user agent.
	UserAgent string
}

// Clients holds one region's SDK clients. It is safe for concurrent use.
type Clients struct {
	Name     string
	DynamoDB *dynamodb.Client
	Streams  *dynamodbstreams.Client
	S3       *s3.Client
}

// New builds a region's clients. It makes no network calls.
func New(spec Spec) (*Clients, error) {
	if spec.Name == "" {
		return nil, errors.New("region spec: empty name")
	}
	if spec.Credentials == nil {
		return nil, fmt.Errorf("region %s: no credentials provider", spec.Name)
	}
	dial := spec.DialTimeout
	if dial == 0 {
		dial = 2 * time.Second
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext
	transport.MaxIdleConnsPerHost = 64
	transport.ResponseHeaderTimeout = 0
	cfg := aws.Config{
		Region:      spec.Name,
		Credentials: aws.NewCredentialsCache(spec.Credentials),
		HTTPClient:  &http.Client{Transport: transport},
	}
	if spec.MaxAttempts > 0 {
		n := spec.MaxAttempts
		cfg.Retryer = func() aws.Retryer { return retry.AddWithMaxAttempts(retry.NewStandard(), n) }
	}
	if spec.Local {
		// versitygw and DynamoDB Local predate the SDK's default CRC checksums.
		cfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		cfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}
	if spec.UserAgent != "" {
		cfg.AppID = spec.UserAgent
	}
	ep := func(s Service) *string {
		if u, ok := spec.Endpoints[s]; ok && u != "" {
			return aws.String(u)
		}
		if s == Streams {
			if u, ok := spec.Endpoints[DynamoDB]; ok && u != "" {
				return aws.String(u)
			}
		}
		return nil
	}
	c := &Clients{Name: spec.Name}
	c.DynamoDB = dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = ep(DynamoDB)
		if spec.Local {
			o.DisableValidateResponseChecksum = true
		}
	})
	c.Streams = dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) {
		o.BaseEndpoint = ep(Streams)
	})
	c.S3 = s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = ep(S3)
		if spec.Local {
			o.UsePathStyle = true
		}
	})
	return c, nil
}

// Ping checks that the region's DynamoDB and S3 endpoints answer, within ctx.
func (c *Clients) Ping(ctx context.Context) error {
	if _, err := c.DynamoDB.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)}); err != nil {
		return fmt.Errorf("ping %s dynamodb: %w", c.Name, err)
	}
	if _, err := c.S3.ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
		return fmt.Errorf("ping %s s3: %w", c.Name, err)
	}
	return nil
}
