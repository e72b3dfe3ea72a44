// Package cfn reads CloudFormation templates: Parse, Check (resource
// types, properties and their shapes against the CloudFormation schema,
// references, conditions, IAM wildcards) and Resolver, which evaluates a
// template's intrinsic functions for given parameters to tell what it
// deploys — functions and their environments, roles and policies, tables,
// buckets — so the lab can run what the templates say.
//
// It must not call AWS: deploying is package deploy's.
package cfn
