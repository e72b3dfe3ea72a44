// Package apply carries out a reviewed protect plan, and takes it back:
// Lab and RemoveLab on the lab (its replicators adopt the tables and
// buckets), AWS and RemoveAWS on an account (each table's replica and its
// import into the primary stack, the replica buckets' stack, replication
// rules merged beside the bucket's own, S3 Batch Replication of what is
// already there), and on both the functions' DR copies through the Lambda
// API. Every step reads what is there first, so apply and remove run again
// safely after an interruption; nothing runs without the plan's hash.
package apply
