// Package routing stands in for Route 53 failover routing in the lab: it health-checks
// each region's orders service (GET /health) every interval, marks a region
// unhealthy or healthy after threshold consecutive results, answers with the
// primary while it is healthy, else the secondary while it is healthy, else
// the primary (as Route 53 does when both records are unhealthy), and lets a
// changed answer reach clients only after the TTL, as cached DNS answers
// expire. Requests are turned into function-URL events and sent to the
// answered region's app function.
//
// It must not run functions or decide IAM: it is given an Invoker and a
// Gate.
package routing
