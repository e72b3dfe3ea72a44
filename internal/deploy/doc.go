// Package deploy owns the AWS side of a deployment: the Plan (regions,
// names, detection profile, parameters of each stack), packaging each
// function as a reproducible `bootstrap` zip for provided.al2023, the
// artifact buckets, deploying the stacks through change sets with their
// events shown as they happen, the first control record, the cost
// estimate, the outage switch the drill uses on AWS, and cleanup.
//
// Templates are read by package cfn. Nothing here runs in a Lambda.
package deploy
