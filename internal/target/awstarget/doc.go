// Package awstarget is the AWS adapter for target.Target: a deployment in
// an AWS account, connected with the user's credentials (Account), its
// stacks' outputs, its functions' URLs signed with SigV4, its CloudWatch
// health metrics, and the outage switch a drill takes the primary down
// with. Without an Account, the same code is rehearsed on the lab by the
// drill's tests.
package awstarget
