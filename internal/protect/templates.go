package protect

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pilotlight/pilotlight/internal/protect/inventory"
)

// obj is a JSON object of a template.
type obj map[string]any

// LogicalID makes a CloudFormation logical ID from a resource name.
func LogicalID(kind, name string) string {
	var b strings.Builder
	b.WriteString(kind)
	up := true
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z':
			if up {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
			up = false
		case r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			up = false
		default:
			up = true
		}
	}
	return b.String()
}

// templates are the stacks apply deploys: in the primary region the
// imported global tables and the replication roles; in the DR region the
// replica buckets. The functions' DR copies are not in a template: apply
// makes them through the Lambda API with their environment's values,
// which may be secrets and so are never written into a plan or a stack.
func templates(inv inventory.Inventory, o Options) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	primary := obj{}
	for _, t := range inv.Tables {
		primary[LogicalID("Table", t.Name)] = globalTable(t, inv.Primary, inv.DR, o.ReplicaKeys[t.Name])
	}
	outputs := obj{}
	if len(inv.Buckets) > 0 {
		primary["ReplicationRole"] = replicationRole(inv, o)
		primary["BatchReplicationRole"] = batchReplicationRole(inv)
		outputs[OutputReplicationRole] = obj{"Value": obj{"Fn::GetAtt": []string{"ReplicationRole", "Arn"}}}
		outputs[OutputBatchRole] = obj{"Value": obj{"Fn::GetAtt": []string{"BatchReplicationRole", "Arn"}}}
	}
	if len(primary) > 0 {
		t := obj{"AWSTemplateFormatVersion": "2010-09-09",
			"Description": fmt.Sprintf("pilotlight protect %s: %s's side (global tables imported with DeletionPolicy Retain; S3 replication roles)", o.App, inv.Primary),
			"Resources":   primary}
		if len(outputs) > 0 {
			t["Outputs"] = outputs
		}
		b, err := json.MarshalIndent(t, "", "  ")
		if err != nil {
			return nil, err
		}
		out[StackName(o.App, inv.Primary)] = b
	}
	dr := obj{}
	for _, b := range inv.Buckets {
		dr[LogicalID("Replica", b.Name)] = replicaBucket(b, inv.DR, o.ReplicaKeys[b.Name])
	}
	if len(dr) > 0 {
		b, err := json.MarshalIndent(obj{"AWSTemplateFormatVersion": "2010-09-09",
			"Description": fmt.Sprintf("pilotlight protect %s: %s's side (replica buckets)", o.App, inv.DR),
			"Resources":   dr}, "", "  ")
		if err != nil {
			return nil, err
		}
		out[StackName(o.App, inv.DR)] = b
	}
	return out, nil
}

// The primary stack's outputs apply reads.
const (
	OutputReplicationRole = "ReplicationRoleArn"
	OutputBatchRole       = "BatchReplicationRoleArn"
)

// ImportTemplate is the primary stack's first change set: its template
// with the tables alone, as an import may neither create a resource nor
// add outputs.
func ImportTemplate(full json.RawMessage) ([]byte, error) {
	var t map[string]json.RawMessage
	if err := json.Unmarshal(full, &t); err != nil {
		return nil, err
	}
	var res map[string]struct {
		Type string `json:"Type"`
	}
	if err := json.Unmarshal(t["Resources"], &res); err != nil {
		return nil, err
	}
	var all map[string]json.RawMessage
	json.Unmarshal(t["Resources"], &all)
	tables := map[string]json.RawMessage{}
	for id, r := range res {
		if r.Type == "AWS::DynamoDB::GlobalTable" {
			tables[id] = all[id]
		}
	}
	b, err := json.Marshal(tables)
	if err != nil {
		return nil, err
	}
	t["Resources"] = b
	delete(t, "Outputs")
	return json.MarshalIndent(t, "", "  ")
}

func keySchema(keys []inventory.Key) []obj {
	var out []obj
	for _, k := range keys {
		out = append(out, obj{"AttributeName": k.Name, "KeyType": k.Role})
	}
	return out
}

// globalTable is the table as AWS::DynamoDB::GlobalTable, repeating its
// definition exactly (an import must match) with replicas in both regions.
func globalTable(t inventory.Table, primary, dr, replicaKey string) obj {
	var attrs []obj
	for _, a := range t.Attributes {
		attrs = append(attrs, obj{"AttributeName": a.Name, "AttributeType": a.Type})
	}
	replica := func(region, key string) obj {
		r := obj{"Region": region, "PointInTimeRecoverySpecification": obj{"PointInTimeRecoveryEnabled": t.PITR}}
		if key != "" {
			r["SSESpecification"] = obj{"KMSMasterKeyId": key}
		}
		return r
	}
	pk, dk := "", ""
	if t.Encryption != "owned" && t.Encryption != "aws-managed" {
		pk, dk = t.Encryption, replicaKey
	}
	props := obj{
		"TableName":            t.Name,
		"AttributeDefinitions": attrs,
		"KeySchema":            keySchema(t.Keys),
		"BillingMode":          "PAY_PER_REQUEST",
		"StreamSpecification":  obj{"StreamViewType": "NEW_AND_OLD_IMAGES"},
		"Replicas":             []obj{replica(primary, pk), replica(dr, dk)},
	}
	if t.Encryption != "owned" {
		props["SSESpecification"] = obj{"SSEEnabled": true, "SSEType": "KMS"}
	}
	if t.TTL != "" {
		props["TimeToLiveSpecification"] = obj{"AttributeName": t.TTL, "Enabled": true}
	}
	var gsis, lsis []obj
	for _, ix := range t.Indexes {
		proj := obj{"ProjectionType": ix.Projection}
		if len(ix.NonKey) > 0 {
			proj["NonKeyAttributes"] = ix.NonKey
		}
		i := obj{"IndexName": ix.Name, "KeySchema": keySchema(ix.Keys), "Projection": proj}
		if ix.Local {
			lsis = append(lsis, i)
		} else {
			gsis = append(gsis, i)
		}
	}
	if len(gsis) > 0 {
		props["GlobalSecondaryIndexes"] = gsis
	}
	if len(lsis) > 0 {
		props["LocalSecondaryIndexes"] = lsis
	}
	if t.Billing == "PROVISIONED" && t.WriteScaling != nil {
		provisioned(t, props)
	}
	return obj{"Type": "AWS::DynamoDB::GlobalTable", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": props}
}

// replicationRole may read the user's buckets' versions for replication
// and write the replicas: nothing else.
func replicationRole(inv inventory.Inventory, o Options) obj {
	var src, srcObjs, dstObjs []any
	for _, b := range inv.Buckets {
		src = append(src, "arn:aws:s3:::"+b.Name)
		srcObjs = append(srcObjs, "arn:aws:s3:::"+b.Name+"/*")
		dstObjs = append(dstObjs, "arn:aws:s3:::"+ReplicaName(b.Name, inv.DR)+"/*")
	}
	stmts := []obj{
		{"Effect": "Allow", "Action": []string{"s3:GetReplicationConfiguration", "s3:ListBucket"}, "Resource": src},
		{"Effect": "Allow", "Action": []string{"s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"}, "Resource": srcObjs},
		{"Effect": "Allow", "Action": []string{"s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"}, "Resource": dstObjs},
	}
	var keys []any
	for _, b := range inv.Buckets {
		if k := o.ReplicaKeys[b.Name]; k != "" {
			keys = append(keys, k)
			if b.KMSKey != "" {
				keys = append(keys, b.KMSKey)
			}
		}
	}
	if len(keys) > 0 {
		stmts = append(stmts, obj{"Effect": "Allow", "Action": []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}, "Resource": keys})
	}
	return obj{"Type": "AWS::IAM::Role", "Properties": obj{
		"AssumeRolePolicyDocument": obj{"Version": "2012-10-17", "Statement": []obj{{"Effect": "Allow", "Principal": obj{"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}}},
		"Policies":                 []obj{{"PolicyName": "replicate", "PolicyDocument": obj{"Version": "2012-10-17", "Statement": stmts}}},
	}}
}

// batchReplicationRole is what S3 Batch Replication runs as to copy the
// objects already in the user's buckets: initiate their replication,
// nothing else.
func batchReplicationRole(inv inventory.Inventory) obj {
	var src, srcObjs []any
	for _, b := range inv.Buckets {
		src = append(src, "arn:aws:s3:::"+b.Name)
		srcObjs = append(srcObjs, "arn:aws:s3:::"+b.Name+"/*")
	}
	stmts := []obj{
		{"Effect": "Allow", "Action": []string{"s3:InitiateReplication"}, "Resource": srcObjs},
		{"Effect": "Allow", "Action": []string{"s3:GetReplicationConfiguration", "s3:PutInventoryConfiguration"}, "Resource": src},
	}
	return obj{"Type": "AWS::IAM::Role", "Properties": obj{
		"AssumeRolePolicyDocument": obj{"Version": "2012-10-17", "Statement": []obj{{"Effect": "Allow", "Principal": obj{"Service": "batchoperations.s3.amazonaws.com"}, "Action": "sts:AssumeRole"}}},
		"Policies":                 []obj{{"PolicyName": "batch-replicate", "PolicyDocument": obj{"Version": "2012-10-17", "Statement": stmts}}},
	}}
}

func replicaBucket(b inventory.Bucket, dr, key string) obj {
	props := obj{"BucketName": ReplicaName(b.Name, dr), "VersioningConfiguration": obj{"Status": "Enabled"},
		"PublicAccessBlockConfiguration": obj{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true}}
	if b.ObjectLock {
		props["ObjectLockEnabled"] = true
	}
	if key != "" {
		props["BucketEncryption"] = obj{"ServerSideEncryptionConfiguration": []obj{{"ServerSideEncryptionByDefault": obj{"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}}}
	}
	return obj{"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": props}
}
