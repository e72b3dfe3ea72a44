// Package access is the lab's IAM: it enforces the templates' policies.
// Each function runs with its own
// access key, standing for a session of its template role; the fronts
// before each region's DynamoDB and S3, and the front door before the
// function URLs, map the SigV4 key of every request to that role and
// evaluate the role's identity policies (with the bucket's policy, for S3)
// with package iampolicy. A refusal gets the answer AWS gives — DynamoDB's
// AccessDeniedException, S3's AccessDenied, a function URL's 403 — and is
// an "access-denied" event: the drill fails on one.
//
// The lab's own calls (the replicators, the CLI, the drill's clients, the
// tests) use the lab's key, which stands for an administrator: allowed
// everything, as the service roles of DynamoDB global tables and S3
// replication act outside the functions' roles on AWS. A request with no
// signature is refused by DynamoDB and S3 fronts alike; the front door
// takes an unsigned request as the operator's (curl works), a signed one is
// evaluated as a function URL with AuthType AWS_IAM.
//
// Not emulated: signatures are not verified (the key names the role; every
// key is the lab's own, handed to one process), nor session expiry;
// aws:SecureTransport is always true.
//
// It must not proxy or log traffic itself: the fronts (package front and
// the front door) call it with each request.
package access
