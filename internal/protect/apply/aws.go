package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	s3ctypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"
	"github.com/aws/smithy-go"

	"github.com/pilotlight/pilotlight/internal/clock"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/deploy"
	"github.com/pilotlight/pilotlight/internal/protect"
	"github.com/pilotlight/pilotlight/internal/protect/inventory"
	"github.com/pilotlight/pilotlight/internal/region"
)

// BatchJobs is the part of S3 Batch Operations (S3 Control) that copies a
// bucket's existing objects to its replica: the SDK client satisfies it.
type BatchJobs interface {
	CreateJob(context.Context, *s3control.CreateJobInput, ...func(*s3control.Options)) (*s3control.CreateJobOutput, error)
	DescribeJob(context.Context, *s3control.DescribeJobInput, ...func(*s3control.Options)) (*s3control.DescribeJobOutput, error)
}

// AWSTarget is what applying a plan on AWS works with: the primary
// region's DynamoDB (a replica is added there), both regions' S3 and
// Lambda, CloudFormation in both (the plan's stacks), and S3 Batch
// Operations in the primary region.
type AWSTarget struct {
	Primary, DR             string
	Account                 string // the account's ID (S3 Batch Operations names it)
	PrimaryDB               *dynamodb.Client
	PrimaryS3, DRS3         *s3.Client
	PrimaryLambda, DRLambda *lambda.Client
	Stacks                  *deploy.Stacks
	Batch                   BatchJobs
	Lease                   control.LeaseConfig
	Say                     func(format string, args ...any) // progress (nil: quiet)
	// Poll is the time between reads while a replica or a batch job is
	// made (0: 5 s); Sleep waits it (nil: a timer that ends with ctx).
	Poll  time.Duration
	Sleep func(context.Context, time.Duration) error
}

func (t AWSTarget) lambdas() lambdas {
	return lambdas{Primary: t.Primary, DR: t.DR, PrimaryLambda: t.PrimaryLambda, DRLambda: t.DRLambda, Lease: t.Lease}
}

func (t AWSTarget) wait(ctx context.Context) error {
	d := t.Poll
	if d == 0 {
		d = 5 * time.Second
	}
	if t.Sleep != nil {
		return t.Sleep(ctx, d)
	}
	return clock.Sleep(ctx, d)
}

// AWS applies an approved plan on AWS, in the order each step needs
// the one before it:
//
//  1. each table: its stream on, then its replica in the DR region
//     (UpdateTable; DynamoDB copies the items already there), waited for
//     until ACTIVE;
//  2. the primary stack: the tables imported as AWS::DynamoDB::GlobalTable
//     with DeletionPolicy Retain (an import change set holding them alone),
//     then updated to the whole template (the replication roles);
//  3. the DR stack: the replica buckets;
//  4. each bucket: versioning on, pilotlight's replication rule added to
//     the rules it has, and S3 Batch Replication of the objects already
//     there, waited for;
//  5. each function: its DR copy (applyFunction, the lab's code too).
//
// Every step reads what is there first, and the batch job is created with
// an idempotency token of the plan and the bucket, so applying again
// resumes where an interrupted run stopped and changes nothing twice.
func AWS(ctx context.Context, p protect.Plan, approved string, t AWSTarget) error {
	say, err := accept(p, approved, t.Primary, t.DR, t.Say, "account")
	if err != nil {
		return err
	}
	if err := refuseKillSwitch(p); err != nil {
		return err
	}
	for _, tb := range p.Inventory.Tables {
		if err := t.replica(ctx, tb, p, say); err != nil {
			return fmt.Errorf("table %s: %w (applying again resumes)", tb.Name, err)
		}
	}
	outs, err := t.primaryStack(ctx, p)
	if err != nil {
		return fmt.Errorf("%w (applying again resumes)", err)
	}
	if tpl, ok := p.Templates[protect.StackName(p.App, p.DR)]; ok {
		if _, err := t.Stacks.Deploy(ctx, deploy.Stack{Kind: "protect", Region: p.DR, Name: protect.StackName(p.App, p.DR), Template: tpl}); err != nil {
			return fmt.Errorf("%w (applying again resumes)", err)
		}
	}
	for _, b := range p.Inventory.Buckets {
		if err := t.bucket(ctx, b, p, outs, say); err != nil {
			return fmt.Errorf("bucket %s: %w (applying again resumes)", b.Name, err)
		}
	}
	for _, f := range p.Inventory.Functions {
		if err := applyFunction(ctx, f, p, t.lambdas(), say); err != nil {
			return fmt.Errorf("function %s: %w (applying again resumes)", f.Name, err)
		}
	}
	return nil
}

// replica gives a table its stream and its replica in the DR region, and
// waits until both regions' copies are ACTIVE.
func (t AWSTarget) replica(ctx context.Context, tb inventory.Table, p protect.Plan, say func(string, ...any)) error {
	d, err := t.PrimaryDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tb.Name)})
	if err != nil {
		return err
	}
	if on, err := ensureStream(ctx, t.PrimaryDB, d.Table, t.Primary, say); err != nil {
		return err
	} else if on {
		if d, err = t.activeTable(ctx, tb.Name, ""); err != nil {
			return err
		}
	}
	if !slices.ContainsFunc(d.Table.Replicas, func(r ddbtypes.ReplicaDescription) bool { return aws.ToString(r.RegionName) == t.DR }) {
		say("%s: adding its replica in %s (UpdateTable); DynamoDB copies the items already there", tb.Name, t.DR)
		create := &ddbtypes.CreateReplicationGroupMemberAction{RegionName: aws.String(t.DR)}
		if k := p.ReplicaKeys[tb.Name]; k != "" {
			create.KMSMasterKeyId = aws.String(k)
		}
		if _, err := t.PrimaryDB.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(tb.Name),
			ReplicaUpdates: []ddbtypes.ReplicationGroupUpdate{{Create: create}}}); err != nil {
			return fmt.Errorf("add its replica in %s: %w", t.DR, err)
		}
	}
	if _, err := t.activeTable(ctx, tb.Name, t.DR); err != nil {
		return err
	}
	say("%s: its replica in %s is ACTIVE", tb.Name, t.DR)
	return nil
}

// activeTable waits until the table, and its replica in replicaRegion if
// one is named, are ACTIVE.
func (t AWSTarget) activeTable(ctx context.Context, name, replicaRegion string) (*dynamodb.DescribeTableOutput, error) {
	for {
		d, err := t.PrimaryDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return nil, err
		}
		ready := d.Table.TableStatus == ddbtypes.TableStatusActive
		if replicaRegion != "" {
			i := slices.IndexFunc(d.Table.Replicas, func(r ddbtypes.ReplicaDescription) bool { return aws.ToString(r.RegionName) == replicaRegion })
			switch {
			case i < 0:
				return nil, fmt.Errorf("its replica in %s is gone: apply again to add it", replicaRegion)
			case d.Table.Replicas[i].ReplicaStatus == ddbtypes.ReplicaStatusCreationFailed:
				return nil, fmt.Errorf("its replica in %s could not be created: %s", replicaRegion, aws.ToString(d.Table.Replicas[i].ReplicaStatusDescription))
			}
			ready = ready && d.Table.Replicas[i].ReplicaStatus == ddbtypes.ReplicaStatusActive
		}
		if ready {
			return d, nil
		}
		if err := t.wait(ctx); err != nil {
			return nil, err
		}
	}
}

// primaryStack deploys the primary region's stack — the tables imported
// first — and returns its outputs.
func (t AWSTarget) primaryStack(ctx context.Context, p protect.Plan) (map[string]string, error) {
	name := protect.StackName(p.App, p.Primary)
	tpl, ok := p.Templates[name]
	if !ok {
		return nil, nil
	}
	imp, err := protect.ImportTemplate(tpl)
	if err != nil {
		return nil, fmt.Errorf("the plan's template %s: %w", name, err)
	}
	st := deploy.Stack{Kind: "protect", Region: p.Primary, Name: name, Template: tpl, ImportTemplate: imp}
	for _, tb := range p.Inventory.Tables {
		st.Adopt = append(st.Adopt, deploy.Adoption{LogicalID: protect.LogicalID("Table", tb.Name), Type: "AWS::DynamoDB::GlobalTable",
			Identifier: map[string]string{"TableName": tb.Name}, Exists: func(context.Context) (bool, error) { return true, nil }})
	}
	res, err := t.Stacks.Deploy(ctx, st)
	if err != nil {
		return nil, err
	}
	return res.Outputs, nil
}

// RuleID is the ID of pilotlight's replication rule on a bucket of app.
func RuleID(app string) string { return "pilotlight-" + app }

// bucket turns versioning on, adds pilotlight's replication rule beside
// the bucket's own, and copies the objects already there.
func (t AWSTarget) bucket(ctx context.Context, b inventory.Bucket, p protect.Plan, outs map[string]string, say func(string, ...any)) error {
	role, batchRole := outs[protect.OutputReplicationRole], outs[protect.OutputBatchRole]
	if role == "" || batchRole == "" {
		return fmt.Errorf("stack %s has no %s or %s output: apply again", protect.StackName(p.App, p.Primary), protect.OutputReplicationRole, protect.OutputBatchRole)
	}
	if err := ensureVersioning(ctx, t.PrimaryS3, b.Name, t.Primary, say); err != nil {
		return err
	}
	rules, err := t.rules(ctx, b.Name, role)
	if err != nil {
		return err
	}
	replica := protect.ReplicaName(b.Name, p.DR)
	ours := s3types.ReplicationRule{ID: aws.String(RuleID(p.App)), Status: s3types.ReplicationRuleStatusEnabled,
		Filter:                  &s3types.ReplicationRuleFilter{Prefix: aws.String("")},
		DeleteMarkerReplication: &s3types.DeleteMarkerReplication{Status: s3types.DeleteMarkerReplicationStatusEnabled},
		Destination:             &s3types.Destination{Bucket: aws.String("arn:aws:s3:::" + replica)}}
	if k := p.ReplicaKeys[b.Name]; k != "" {
		ours.Destination.EncryptionConfiguration = &s3types.EncryptionConfiguration{ReplicaKmsKeyID: aws.String(k)}
		ours.SourceSelectionCriteria = &s3types.SourceSelectionCriteria{SseKmsEncryptedObjects: &s3types.SseKmsEncryptedObjects{Status: s3types.SseKmsEncryptedObjectsStatusEnabled}}
	}
	var keep []s3types.ReplicationRule
	prio := int32(0)
	had := false
	for _, r := range rules {
		if aws.ToString(r.ID) == RuleID(p.App) {
			had = true
			continue
		}
		keep = append(keep, r)
		prio = max(prio, aws.ToInt32(r.Priority))
	}
	ours.Priority = aws.Int32(prio + 1)
	if !had {
		say("%s: adding replication rule %s to %s (its %d other rule(s) kept)", b.Name, RuleID(p.App), replica, len(keep))
	}
	if _, err := t.PrimaryS3.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String(b.Name),
		ReplicationConfiguration: &s3types.ReplicationConfiguration{Role: aws.String(role), Rules: append(keep, ours)}}); err != nil {
		return fmt.Errorf("add replication rule %s: %w", RuleID(p.App), err)
	}
	return t.batchReplicate(ctx, b, p, batchRole, say)
}

// rules are the bucket's replication rules; a configuration that runs as
// another role than pilotlight's is refused (S3 takes one role for all of
// a bucket's rules, and pilotlight does not change a role of yours).
func (t AWSTarget) rules(ctx context.Context, bucket, role string) ([]s3types.ReplicationRule, error) {
	cur, err := t.PrimaryS3.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String(bucket)})
	var ae smithy.APIError
	switch {
	case errors.As(err, &ae) && ae.ErrorCode() == "ReplicationConfigurationNotFoundError":
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read its replication rules: %w", err)
	}
	c := cur.ReplicationConfiguration
	if r := aws.ToString(c.Role); r != role && len(c.Rules) > 0 {
		return nil, fmt.Errorf("it already replicates as role %s, and S3 runs all of a bucket's replication rules as one role: give that role's rules to pilotlight's (%s), or protect the bucket without pilotlight's rule", r, role)
	}
	return c.Rules, nil
}

// batchReplicate copies the objects that were there before the rule (S3
// replicates only new writes) with S3 Batch Replication, and waits for the
// job. Its idempotency token is the plan's and the bucket's: a second
// apply finds the first's job instead of starting another.
func (t AWSTarget) batchReplicate(ctx context.Context, b inventory.Bucket, p protect.Plan, role string, say func(string, ...any)) error {
	sum := sha256.Sum256([]byte(p.Hash + "/" + b.Name))
	token := hex.EncodeToString(sum[:])[:32]
	job, err := t.Batch.CreateJob(ctx, &s3control.CreateJobInput{AccountId: aws.String(t.Account), ClientRequestToken: aws.String(token),
		ConfirmationRequired: aws.Bool(false), Priority: aws.Int32(10), RoleArn: aws.String(role),
		Description: aws.String("pilotlight protect " + p.App + ": copy the objects already in " + b.Name),
		Operation:   &s3ctypes.JobOperation{S3ReplicateObject: &s3ctypes.S3ReplicateObjectOperation{}},
		Report:      &s3ctypes.JobReport{Enabled: false},
		ManifestGenerator: &s3ctypes.JobManifestGeneratorMemberS3JobManifestGenerator{Value: s3ctypes.S3JobManifestGenerator{
			SourceBucket: aws.String("arn:aws:s3:::" + b.Name), EnableManifestOutput: false,
			Filter: &s3ctypes.JobManifestGeneratorFilter{EligibleForReplication: aws.Bool(true),
				ObjectReplicationStatuses: []s3ctypes.ReplicationStatus{s3ctypes.ReplicationStatusNone, s3ctypes.ReplicationStatusFailed}}}}})
	if err != nil {
		return fmt.Errorf("start S3 Batch Replication of the objects already there: %w", err)
	}
	id := aws.ToString(job.JobId)
	say("%s: S3 Batch Replication job %s copies the objects already there", b.Name, id)
	for {
		d, err := t.Batch.DescribeJob(ctx, &s3control.DescribeJobInput{AccountId: aws.String(t.Account), JobId: aws.String(id)})
		if err != nil {
			return fmt.Errorf("read batch job %s: %w", id, err)
		}
		j := d.Job
		var done, failed int64
		if s := j.ProgressSummary; s != nil {
			done, failed = aws.ToInt64(s.NumberOfTasksSucceeded), aws.ToInt64(s.NumberOfTasksFailed)
		}
		switch j.Status {
		case s3ctypes.JobStatusComplete:
			if failed > 0 {
				return fmt.Errorf("batch job %s copied %d objects and failed %d: see the job in the S3 console, then apply again", id, done, failed)
			}
			say("%s: its %d existing object(s) copied to %s", b.Name, done, protect.ReplicaName(b.Name, p.DR))
			return nil
		case s3ctypes.JobStatusFailed, s3ctypes.JobStatusCancelled:
			why := string(j.Status)
			for _, f := range j.FailureReasons {
				why += "; " + aws.ToString(f.FailureCode) + ": " + aws.ToString(f.FailureReason)
			}
			return fmt.Errorf("batch job %s ended %s", id, why)
		}
		if err := t.wait(ctx); err != nil {
			return err
		}
	}
}

// RemoveAWS undoes AWS: the functions' DR copies are deleted and
// their guard's variables taken off; pilotlight's replication rule is
// taken off each bucket (its other rules kept); the DR stack and the
// primary stack are deleted — the tables and replica buckets in them are
// retained (DeletionPolicy Retain), the roles go. With deleteReplicas the
// replica buckets are emptied and deleted and the tables' DR replicas
// removed. The user's tables, buckets, functions and data in the primary
// region are never deleted.
func RemoveAWS(ctx context.Context, p protect.Plan, approved string, t AWSTarget, deleteReplicas bool) error {
	say, err := accept(p, approved, t.Primary, t.DR, t.Say, "account")
	if err != nil {
		return err
	}
	for _, f := range p.Inventory.Functions {
		if err := removeFunction(ctx, f, p, t.lambdas(), say); err != nil {
			return fmt.Errorf("function %s: %w", f.Name, err)
		}
	}
	for _, b := range p.Inventory.Buckets {
		if err := t.removeRule(ctx, b, p, say); err != nil {
			return fmt.Errorf("bucket %s: %w", b.Name, err)
		}
		if !deleteReplicas {
			continue
		}
		replica := protect.ReplicaName(b.Name, p.DR)
		n, err := region.DeleteVersions(ctx, t.DRS3, replica, "")
		var nb *s3types.NoSuchBucket
		if errors.As(err, &nb) {
			continue
		}
		if err != nil {
			return fmt.Errorf("bucket %s: empty its replica %s: %w", b.Name, replica, err)
		}
		if _, err := t.DRS3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(replica)}); err != nil {
			return fmt.Errorf("bucket %s: delete its replica %s: %w", b.Name, replica, err)
		}
		say("%s: its replica %s deleted (%d versions)", b.Name, replica, n)
	}
	for _, r := range []string{p.DR, p.Primary} {
		name := protect.StackName(p.App, r)
		if _, ok := p.Templates[name]; !ok {
			continue
		}
		if err := t.Stacks.Delete(ctx, deploy.Stack{Kind: "protect", Region: r, Name: name}); err != nil {
			return err
		}
		say("stack %s deleted in %s (its tables and buckets are retained)", name, r)
	}
	for _, tb := range p.Inventory.Tables {
		if !deleteReplicas {
			say("%s: still a global table with its replica in %s (--delete-replicas removes it)", tb.Name, p.DR)
			continue
		}
		if err := t.removeReplica(ctx, tb.Name, say); err != nil {
			return fmt.Errorf("table %s: %w", tb.Name, err)
		}
	}
	return nil
}

// removeRule takes pilotlight's rule off the bucket's replication,
// keeping the others (or deleting the configuration it alone made up).
func (t AWSTarget) removeRule(ctx context.Context, b inventory.Bucket, p protect.Plan, say func(string, ...any)) error {
	cur, err := t.PrimaryS3.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String(b.Name)})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "ReplicationConfigurationNotFoundError" {
		return nil
	}
	if err != nil {
		return err
	}
	c := cur.ReplicationConfiguration
	var keep []s3types.ReplicationRule
	for _, r := range c.Rules {
		if aws.ToString(r.ID) != RuleID(p.App) {
			keep = append(keep, r)
		}
	}
	if len(keep) == len(c.Rules) {
		return nil
	}
	if len(keep) == 0 {
		_, err = t.PrimaryS3.DeleteBucketReplication(ctx, &s3.DeleteBucketReplicationInput{Bucket: aws.String(b.Name)})
	} else {
		_, err = t.PrimaryS3.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String(b.Name),
			ReplicationConfiguration: &s3types.ReplicationConfiguration{Role: c.Role, Rules: keep}})
	}
	if err != nil {
		return fmt.Errorf("take off replication rule %s: %w", RuleID(p.App), err)
	}
	say("%s: replication rule %s removed (%d other rule(s) kept)", b.Name, RuleID(p.App), len(keep))
	return nil
}

// removeReplica deletes the table's replica in the DR region and waits
// until it is gone.
func (t AWSTarget) removeReplica(ctx context.Context, name string, say func(string, ...any)) error {
	for first := true; ; first = false {
		d, err := t.PrimaryDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return err
		}
		i := slices.IndexFunc(d.Table.Replicas, func(r ddbtypes.ReplicaDescription) bool { return aws.ToString(r.RegionName) == t.DR })
		if i < 0 {
			say("%s: its replica in %s deleted", name, t.DR)
			return nil
		}
		if first && d.Table.Replicas[i].ReplicaStatus != ddbtypes.ReplicaStatusDeleting {
			if _, err := t.PrimaryDB.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(name),
				ReplicaUpdates: []ddbtypes.ReplicationGroupUpdate{{Delete: &ddbtypes.DeleteReplicationGroupMemberAction{RegionName: aws.String(t.DR)}}}}); err != nil {
				return fmt.Errorf("delete its replica in %s: %w", t.DR, err)
			}
		}
		if err := t.wait(ctx); err != nil {
			return err
		}
	}
}
