package protect

import (
	"encoding/json"
	"fmt"
	"strings"
)

// obj is a JSON object of a template.
type obj map[string]any

// logicalID makes a CloudFormation logical ID from a resource name.
func logicalID(kind, name string) string {
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
// imported global tables and the replication role; in the DR region the
// replica buckets and the functions' DR copies.
func templates(inv Inventory, o Options, tier Tier) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	primary := obj{}
	for _, t := range inv.Tables {
		primary[logicalID("Table", t.Name)] = globalTable(t, inv.Primary, inv.DR, o.ReplicaKeys[t.Name])
	}
	if len(inv.Buckets) > 0 {
		primary["ReplicationRole"] = replicationRole(inv, o)
	}
	if len(primary) > 0 {
		b, err := json.MarshalIndent(obj{"AWSTemplateFormatVersion": "2010-09-09",
			"Description": fmt.Sprintf("pilotlight protect %s: %s's side (global tables imported with DeletionPolicy Retain; S3 replication role)", o.App, inv.Primary),
			"Resources":   primary}, "", "  ")
		if err != nil {
			return nil, err
		}
		out[stackName(o.App, inv.Primary)] = b
	}
	dr := obj{}
	params := obj{}
	for _, b := range inv.Buckets {
		dr[logicalID("Replica", b.Name)] = replicaBucket(b, inv.DR, o.ReplicaKeys[b.Name])
	}
	for _, f := range inv.Functions {
		params["ArtifactBucket"] = obj{"Type": "String", "Description": "the bucket in " + inv.DR + " apply copies the functions' code to"}
		for id, r := range drFunction(f, tier, o) {
			dr[id] = r
		}
	}
	if len(dr) > 0 {
		t := obj{"AWSTemplateFormatVersion": "2010-09-09",
			"Description": fmt.Sprintf("pilotlight protect %s: %s's side (replica buckets; functions' DR copies at reserved concurrency 0)", o.App, inv.DR),
			"Resources":   dr}
		if len(params) > 0 {
			t["Parameters"] = params
		}
		b, err := json.MarshalIndent(t, "", "  ")
		if err != nil {
			return nil, err
		}
		out[stackName(o.App, inv.DR)] = b
	}
	return out, nil
}

func keySchema(keys []Key) []obj {
	var out []obj
	for _, k := range keys {
		out = append(out, obj{"AttributeName": k.Name, "KeyType": k.Role})
	}
	return out
}

// globalTable is the table as AWS::DynamoDB::GlobalTable, repeating its
// definition exactly (an import must match) with replicas in both regions.
func globalTable(t Table, primary, dr, replicaKey string) obj {
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
func replicationRole(inv Inventory, o Options) obj {
	var src, srcObjs, dstObjs []any
	for _, b := range inv.Buckets {
		src = append(src, "arn:aws:s3:::"+b.Name)
		srcObjs = append(srcObjs, "arn:aws:s3:::"+b.Name+"/*")
		dstObjs = append(dstObjs, "arn:aws:s3:::"+replicaName(b.Name, inv.DR)+"/*")
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

func replicaBucket(b Bucket, dr, key string) obj {
	props := obj{"BucketName": replicaName(b.Name, dr), "VersioningConfiguration": obj{"Status": "Enabled"},
		"PublicAccessBlockConfiguration": obj{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true}}
	if b.ObjectLock {
		props["ObjectLockEnabled"] = true
	}
	if key != "" {
		props["BucketEncryption"] = obj{"ServerSideEncryptionConfiguration": []obj{{"ServerSideEncryptionByDefault": obj{"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}}}
	}
	return obj{"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": props}
}

// drFunction is a function's DR copy at the pilot-light minimum: idle
// (Lambda bills nothing for it), and at the kill-switch tier reserved
// concurrency 0 until a failover gives it its concurrency back. Its
// environment's values are copied by apply, never written into a plan
// (they may be secrets); a guarded function's copy is given the control
// table here.
func drFunction(f Function, tier Tier, o Options) obj {
	id := logicalID("Function", f.Name)
	props := obj{
		"FunctionName":  f.Name,
		"Role":          f.Role,
		"MemorySize":    f.Memory,
		"Timeout":       f.Timeout,
		"Architectures": []string{f.Architecture},
		"Code":          obj{"S3Bucket": obj{"Ref": "ArtifactBucket"}, "S3Key": "functions/" + f.Name + ".zip"},
	}
	if tier == KillSwitch {
		props["ReservedConcurrentExecutions"] = 0
	}
	if f.Runtime != "" {
		props["Runtime"], props["Handler"] = f.Runtime, f.Handler
	}
	if tier == EpochGuard && o.guarded(f.Name) {
		props["Environment"] = obj{"Variables": obj{"PILOTLIGHT_CONTROL_TABLE": o.ControlTable}}
	}
	out := obj{id: obj{"Type": "AWS::Lambda::Function", "Properties": props}}
	if f.URL != "" {
		auth := f.URLAuth
		if auth == "" {
			auth = "AWS_IAM"
		}
		out[id+"Url"] = obj{"Type": "AWS::Lambda::Url", "Properties": obj{"TargetFunctionArn": obj{"Fn::GetAtt": []string{id, "Arn"}}, "AuthType": auth}}
		if auth == "NONE" {
			out[id+"UrlPermission"] = obj{"Type": "AWS::Lambda::Permission", "Properties": obj{"FunctionName": obj{"Ref": id}, "Action": "lambda:InvokeFunctionUrl", "Principal": "*", "FunctionUrlAuthType": "NONE"}}
		}
	}
	return out
}
