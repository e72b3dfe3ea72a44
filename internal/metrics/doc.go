// Package metrics owns CloudWatch Embedded Metric Format (EMF): writing
// metric lines from functions (CloudWatch turns them into metrics on AWS)
// and parsing them back (the lab's alarm evaluator reads function logs).
// Metric names are the ones Names and the dashboards use; nothing else
// defines them.
package metrics
