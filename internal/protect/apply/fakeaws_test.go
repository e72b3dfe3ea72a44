package apply_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfnapi "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	s3ctypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"
	"github.com/aws/smithy-go"

	"github.com/pilotlight/pilotlight/internal/deploy"
)

// fakeCFN is CloudFormation for protect's two stacks, holding them to the
// rules apply depends on: an import change set may hold only the resources
// it imports, each with DeletionPolicy Retain, and no outputs; a template
// that creates a global table of a name that exists fails, as
// CloudFormation fails on a taken name; an update without changes fails
// as "didn't contain changes". Resources are made by create (a bucket in
// moto, say); an IAM role's ARN is made up.
type fakeCFN struct {
	mu         sync.Mutex
	stacks     map[string]*fakeStack // region/name
	changeSets map[string]*fakeChange
	calls      []string // "region kind stack", in order
	create     func(region, typ string, props map[string]any) error
}

type fakeStack struct {
	template  string
	resources map[string]string // logical ID -> type
	outputs   map[string]string
	status    cfntypes.StackStatus
}

type fakeChange struct {
	region, stack string
	kind          cfntypes.ChangeSetType
	template      string
	status        cfntypes.ChangeSetStatus
	reason        string
}

type cfnTemplate struct {
	Resources map[string]struct {
		Type           string         `json:"Type"`
		DeletionPolicy string         `json:"DeletionPolicy"`
		Properties     map[string]any `json:"Properties"`
	} `json:"Resources"`
	Outputs map[string]struct {
		Value map[string][]string `json:"Value"`
	} `json:"Outputs"`
}

func newFakeCFN(create func(region, typ string, props map[string]any) error) *fakeCFN {
	return &fakeCFN{stacks: map[string]*fakeStack{}, changeSets: map[string]*fakeChange{}, create: create}
}

func (f *fakeCFN) client(r string) deploy.CloudFormation { return &fakeCFNRegion{f, r} }

type fakeCFNRegion struct {
	f      *fakeCFN
	region string
}

func cfnNotFound(name string) error {
	return &smithy.GenericAPIError{Code: "ValidationError", Message: "Stack with id " + name + " does not exist"}
}

func (r *fakeCFNRegion) DescribeStacks(_ context.Context, in *cfnapi.DescribeStacksInput, _ ...func(*cfnapi.Options)) (*cfnapi.DescribeStacksOutput, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	s := r.f.stacks[r.region+"/"+aws.ToString(in.StackName)]
	if s == nil {
		return nil, cfnNotFound(aws.ToString(in.StackName))
	}
	out := cfntypes.Stack{StackName: in.StackName, StackStatus: s.status}
	for k, v := range s.outputs {
		out.Outputs = append(out.Outputs, cfntypes.Output{OutputKey: aws.String(k), OutputValue: aws.String(v)})
	}
	return &cfnapi.DescribeStacksOutput{Stacks: []cfntypes.Stack{out}}, nil
}

func (r *fakeCFNRegion) CreateChangeSet(_ context.Context, in *cfnapi.CreateChangeSetInput, _ ...func(*cfnapi.Options)) (*cfnapi.CreateChangeSetOutput, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	name := aws.ToString(in.StackName)
	r.f.calls = append(r.f.calls, r.region+" "+string(in.ChangeSetType)+" "+name)
	cs := &fakeChange{region: r.region, stack: name, kind: in.ChangeSetType, template: aws.ToString(in.TemplateBody), status: cfntypes.ChangeSetStatusCreateComplete}
	r.f.changeSets[aws.ToString(in.ChangeSetName)] = cs
	var t cfnTemplate
	if err := json.Unmarshal([]byte(cs.template), &t); err != nil {
		return nil, &smithy.GenericAPIError{Code: "ValidationError", Message: "Template format error: " + err.Error()}
	}
	cur := r.f.stacks[r.region+"/"+name]
	fail := func(reason string) (*cfnapi.CreateChangeSetOutput, error) {
		cs.status, cs.reason = cfntypes.ChangeSetStatusFailed, reason
		return &cfnapi.CreateChangeSetOutput{}, nil
	}
	switch in.ChangeSetType {
	case cfntypes.ChangeSetTypeImport:
		imported := map[string]bool{}
		for _, i := range in.ResourcesToImport {
			imported[aws.ToString(i.LogicalResourceId)] = true
		}
		if len(t.Outputs) > 0 {
			return fail("Outputs can not be added during an import operation")
		}
		for id, res := range t.Resources {
			if !imported[id] {
				return fail("You have modified resources [" + id + "] in your template that are not being imported")
			}
			if res.DeletionPolicy != "Retain" {
				return fail("The following resource(s) are being imported without DeletionPolicy Retain: " + id)
			}
		}
	case cfntypes.ChangeSetTypeUpdate:
		if cur == nil {
			return nil, cfnNotFound(name)
		}
		if cur.template == cs.template {
			return fail("The submitted information didn't contain changes. Submit different information to create a change set.")
		}
	}
	for id, res := range t.Resources {
		if res.Type == "AWS::DynamoDB::GlobalTable" && in.ChangeSetType != cfntypes.ChangeSetTypeImport && (cur == nil || cur.resources[id] == "") {
			return fail("Resource handler returned message: \"Table already exists: " + fmt.Sprint(res.Properties["TableName"]) + "\"")
		}
	}
	return &cfnapi.CreateChangeSetOutput{}, nil
}

func (r *fakeCFNRegion) DescribeChangeSet(_ context.Context, in *cfnapi.DescribeChangeSetInput, _ ...func(*cfnapi.Options)) (*cfnapi.DescribeChangeSetOutput, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	cs := r.f.changeSets[aws.ToString(in.ChangeSetName)]
	return &cfnapi.DescribeChangeSetOutput{Status: cs.status, StatusReason: aws.String(cs.reason)}, nil
}

func (r *fakeCFNRegion) ExecuteChangeSet(_ context.Context, in *cfnapi.ExecuteChangeSetInput, _ ...func(*cfnapi.Options)) (*cfnapi.ExecuteChangeSetOutput, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	cs := r.f.changeSets[aws.ToString(in.ChangeSetName)]
	var t cfnTemplate
	json.Unmarshal([]byte(cs.template), &t)
	key := r.region + "/" + cs.stack
	s := r.f.stacks[key]
	if s == nil {
		s = &fakeStack{resources: map[string]string{}}
		r.f.stacks[key] = s
	}
	for id, res := range t.Resources {
		if s.resources[id] == "" && cs.kind != cfntypes.ChangeSetTypeImport && r.f.create != nil {
			if err := r.f.create(r.region, res.Type, res.Properties); err != nil {
				return nil, err
			}
		}
	}
	s.resources = map[string]string{}
	for id, res := range t.Resources {
		s.resources[id] = res.Type
	}
	s.template, s.outputs = cs.template, map[string]string{}
	for k, o := range t.Outputs {
		if ga := o.Value["Fn::GetAtt"]; len(ga) == 2 {
			s.outputs[k] = "arn:aws:iam::123456789012:role/" + cs.stack + "-" + ga[0]
		}
	}
	s.status = map[cfntypes.ChangeSetType]cfntypes.StackStatus{cfntypes.ChangeSetTypeImport: cfntypes.StackStatusImportComplete,
		cfntypes.ChangeSetTypeCreate: cfntypes.StackStatusCreateComplete, cfntypes.ChangeSetTypeUpdate: cfntypes.StackStatusUpdateComplete}[cs.kind]
	return &cfnapi.ExecuteChangeSetOutput{}, nil
}

func (r *fakeCFNRegion) DeleteChangeSet(context.Context, *cfnapi.DeleteChangeSetInput, ...func(*cfnapi.Options)) (*cfnapi.DeleteChangeSetOutput, error) {
	return &cfnapi.DeleteChangeSetOutput{}, nil
}

func (r *fakeCFNRegion) DescribeStackEvents(context.Context, *cfnapi.DescribeStackEventsInput, ...func(*cfnapi.Options)) (*cfnapi.DescribeStackEventsOutput, error) {
	return &cfnapi.DescribeStackEventsOutput{}, nil
}

func (r *fakeCFNRegion) DeleteStack(_ context.Context, in *cfnapi.DeleteStackInput, _ ...func(*cfnapi.Options)) (*cfnapi.DeleteStackOutput, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	r.f.calls = append(r.f.calls, r.region+" DELETE "+aws.ToString(in.StackName))
	delete(r.f.stacks, r.region+"/"+aws.ToString(in.StackName))
	return &cfnapi.DeleteStackOutput{}, nil
}

func (r *fakeCFNRegion) ListStackResources(context.Context, *cfnapi.ListStackResourcesInput, ...func(*cfnapi.Options)) (*cfnapi.ListStackResourcesOutput, error) {
	return &cfnapi.ListStackResourcesOutput{}, nil
}

// fakeBatch is S3 Batch Replication: a job copies the objects of its
// source bucket that its replica lacks (through the S3 API, into the
// replica the plan names), and one idempotency token is one job.
type fakeBatch struct {
	mu      sync.Mutex
	s3      *s3.Client
	replica func(bucket string) string
	jobs    map[string]string // token -> job ID
	copied  map[string]int64  // job ID -> objects copied
	polls   map[string]int
}

func (b *fakeBatch) CreateJob(ctx context.Context, in *s3control.CreateJobInput, _ ...func(*s3control.Options)) (*s3control.CreateJobOutput, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	tok := aws.ToString(in.ClientRequestToken)
	if id, ok := b.jobs[tok]; ok {
		return &s3control.CreateJobOutput{JobId: aws.String(id)}, nil
	}
	gen := in.ManifestGenerator.(*s3ctypes.JobManifestGeneratorMemberS3JobManifestGenerator).Value
	src := strings.TrimPrefix(aws.ToString(gen.SourceBucket), "arn:aws:s3:::")
	if in.Operation.S3ReplicateObject == nil || !aws.ToBool(gen.Filter.EligibleForReplication) || aws.ToString(in.RoleArn) == "" {
		return nil, &smithy.GenericAPIError{Code: "InvalidRequest", Message: "not a batch replication job"}
	}
	out, err := b.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(src)})
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("job-%d", len(b.jobs)+1)
	for _, o := range out.Contents {
		if _, err := b.s3.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b.replica(src)), Key: o.Key, CopySource: aws.String(src + "/" + aws.ToString(o.Key))}); err != nil {
			return nil, err
		}
		b.copied[id]++
	}
	b.jobs[tok] = id
	return &s3control.CreateJobOutput{JobId: aws.String(id)}, nil
}

func (b *fakeBatch) DescribeJob(_ context.Context, in *s3control.DescribeJobInput, _ ...func(*s3control.Options)) (*s3control.DescribeJobOutput, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := aws.ToString(in.JobId)
	b.polls[id]++
	st := s3ctypes.JobStatusActive
	if b.polls[id] > 1 {
		st = s3ctypes.JobStatusComplete
	}
	return &s3control.DescribeJobOutput{Job: &s3ctypes.JobDescriptor{JobId: in.JobId, Status: st,
		ProgressSummary: &s3ctypes.JobProgressSummary{NumberOfTasksSucceeded: aws.Int64(b.copied[id]), NumberOfTasksFailed: aws.Int64(0)}}}, nil
}
