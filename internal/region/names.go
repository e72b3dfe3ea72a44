package region

import (
	"fmt"
	"strings"
)

// Names owns every resource and key name, so that the CLI, the functions, the
// lab and the CloudFormation parameters agree. A name that is not here is a bug.
type Names struct {
	// App prefixes every resource, e.g. "pilotlight".
	App string
	// Account, when set, makes bucket names globally unique on AWS. The lab
	// leaves it empty.
	Account string
}

// Table is the protected application table (a global table on AWS).
func (n Names) Table() string { return n.App + "-orders" }

// ControlTable is the regional, unreplicated table holding the active record
// and the failover journal.
func (n Names) ControlTable() string { return n.App + "-control" }

// Bucket is the protected application bucket in a region.
func (n Names) Bucket(region string) string { return n.bucket("data", region) }

// BackupBucket holds snapshots in a region.
func (n Names) BackupBucket(region string) string { return n.bucket("backup", region) }

func (n Names) bucket(kind, region string) string {
	if n.Account != "" {
		return fmt.Sprintf("%s-%s-%s-%s", n.App, kind, n.Account, region)
	}
	return fmt.Sprintf("%s-%s-%s", n.App, kind, region)
}

// Stack names a CloudFormation stack: kind is "primary", "dr" or "global".
func (n Names) Stack(kind string) string { return n.App + "-" + kind }

// ProtectStack is the stack `protect apply` adds in a region for the user's
// application named n.App.
func (n Names) ProtectStack(region string) string { return n.App + "-protect-" + region }

// ARCPlan is the ARC Region switch plan `protect plan --arc` exports for
// the user's application named n.App (at most 32 characters, ARC's limit).
func (n Names) ARCPlan() string {
	name := n.App + "-pilotlight"
	if len(name) > 32 {
		name = strings.TrimRight(name[:32], "-")
	}
	return name
}

// The functions' short names, as built under lambda/<name>; Function
// gives a function's full name.
const (
	FnApp        = "app"
	FnHealth     = "healthcheck"
	FnController = "failovercontroller"
	FnValidator  = "datavalidator"
	FnBackup     = "backupmanager"
)

// Functions are every function's short name.
var Functions = []string{FnApp, FnHealth, FnController, FnValidator, FnBackup}

// Function names a Lambda function from its short name ("app",
// "healthcheck", …); an EventBridge rule named after its function takes the
// same name.
func (n Names) Function(short string) string { return n.App + "-" + short }

// Short is a function's short name from its full name ("" when it is not
// one of this app's).
func (n Names) Short(function string) string {
	if s, ok := strings.CutPrefix(function, n.App+"-"); ok {
		return s
	}
	return ""
}

// Rule names an EventBridge rule: a function's schedule ("healthcheck"),
// or "failovercontroller-reconcile", "alarm-to-controller".
func (n Names) Rule(name string) string { return n.App + "-" + name }

// PrimaryAlarm is the DR region's alarm on the primary's health: the one
// that drives failover.
func (n Names) PrimaryAlarm() string { return n.App + "-primary-unhealthy" }

// ReplicationLagAlarm and DivergenceAlarm only notify.
func (n Names) ReplicationLagAlarm() string { return n.App + "-replication-lag" }

// DivergenceAlarm fires when the data validator finds the regions differ.
func (n Names) DivergenceAlarm() string { return n.App + "-regions-diverge" }

// FailoverTopic is the DR region's SNS topic for failover notifications.
func (n Names) FailoverTopic() string { return n.App + "-failover" }

// MetricNamespace is the CloudWatch namespace of every metric.
const MetricNamespace = "Pilotlight"

// MetricNamespace is the CloudWatch namespace of every metric.
func (n Names) MetricNamespace() string { return MetricNamespace }

// Key attributes of the application table and the control table.
const (
	TableHashKey   = "pk"
	ControlHashKey = "pk"
	ControlSortKey = "sk"
)

// Attributes the lab replicator stamps on replicated items, in the manner of
// the first version of DynamoDB global tables (aws:rep:*). Tools that compare
// items across regions ignore them.
const (
	// AttrRepVersion holds the replicated version: "<unix ms>@<origin region>".
	AttrRepVersion = "pilotlight:rep:version"
	// AttrRepDeleting marks an item the replicator is about to delete.
	AttrRepDeleting = "pilotlight:rep:deleting"
)

// Object metadata the lab replicator sets on replicated object versions.
const (
	MetaSourceRegion  = "pilotlight-source-region"
	MetaSourceVersion = "pilotlight-source-version"
)

// ActiveRecordKey is the control-table key of the active-region record.
func (n Names) ActiveRecordKey() (pk, sk string) { return "active", "active" }

// JournalKey is the control-table partition of the failover run at an epoch.
func (n Names) JournalKey(epoch int64) string { return fmt.Sprintf("run#%d", epoch) }

// CanaryPrefix starts every key and object name that probes write. The lab's
// object replication rule skips it (as an S3 replication filter would) and
// the validator ignores it.
const CanaryPrefix = "_canary"
