// Package alarm stands in for CloudWatch and EventBridge in the lab: the
// alarm on the DR region's view of the primary, evaluated from the health
// check's EMF log lines, which invokes the failover controller with the
// event CloudWatch sends on a change to ALARM; the schedules that invoke
// the health checks and the controller's tick; and the events themselves,
// shaped as EventBridge delivers them (account 000000000000), kept here so
// the Lambda binaries do not carry them.
//
// Rule evaluates any alarm of the templates (cfn.Alarm) over datapoints as
// CloudWatch would; the lab keeps its functions' datapoints (Lab.Datapoints)
// so a test can raise each alarm.
//
// It must not know how functions run: it is given an Invoker.
package alarm
