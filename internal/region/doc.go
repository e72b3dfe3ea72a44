// Package region owns what pilotlight knows about one region: its AWS SDK v2
// clients (DynamoDB, DynamoDB Streams, S3), each with an endpoint that can be
// overridden per service, and the Names type that owns every table, bucket,
// stack, metric and key name pilotlight uses. It also signs plain HTTP
// requests for AWS (function URLs with AuthType AWS_IAM) and removes every
// object version under a bucket prefix.
//
// It does not load credentials or read the environment: callers pass a
// credentials provider and endpoints in. The lab passes local endpoints and
// static lab credentials; the aws target passes the default credential chain.
package region
