package deploy

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfnapi "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"
)

// fakeCloud is CloudFormation in several regions, in memory: stacks move
// through their states one poll at a time, and failures are scripted.
type fakeCloud struct {
	mu     sync.Mutex
	stacks map[string]*fakeStack // region/name
	calls  []string
	clock  time.Time
	seq    int
	// scripted behaviour
	failCreate map[string]string // stack name -> logical ID that fails
	failDelete map[string]string
	// tableExists, when set, is DynamoDB: creating a stack whose template
	// makes a kept control table (DeletionPolicy Retain) fails when the
	// table is there, as CloudFormation fails on a taken name.
	tableExists func(region, table string) bool
}

type fakeStack struct {
	name, region string
	status       cfntypes.StackStatus
	template     string
	params       map[string]string
	events       []cfntypes.StackEvent // oldest first
	pending      map[string]*fakeChangeSet
	polls        int
	next         cfntypes.StackStatus
	failed       string
}

type fakeChangeSet struct {
	kind     cfntypes.ChangeSetType
	template string
	params   map[string]string
	status   cfntypes.ChangeSetStatus
	reason   string
	imports  int
}

func newFakeCloud() *fakeCloud {
	return &fakeCloud{stacks: map[string]*fakeStack{}, clock: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), failCreate: map[string]string{}, failDelete: map[string]string{}}
}

func (f *fakeCloud) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clock
}

func (f *fakeCloud) region(r string) CloudFormation { return &fakeRegion{f, r} }

type fakeRegion struct {
	f      *fakeCloud
	region string
}

func notFound(name string) error {
	return &smithy.GenericAPIError{Code: "ValidationError", Message: "Stack with id " + name + " does not exist"}
}

func (r *fakeRegion) get(name string) *fakeStack { return r.f.stacks[r.region+"/"+name] }

func (r *fakeRegion) event(s *fakeStack, id, typ string, status cfntypes.ResourceStatus, reason string) {
	r.f.seq++
	r.f.clock = r.f.clock.Add(time.Second)
	s.events = append(s.events, cfntypes.StackEvent{EventId: aws.String(fmt.Sprint(r.f.seq)), StackName: aws.String(s.name), LogicalResourceId: aws.String(id),
		ResourceType: aws.String(typ), ResourceStatus: status, ResourceStatusReason: aws.String(reason), Timestamp: aws.Time(r.f.clock)})
}

func (r *fakeRegion) DescribeStacks(_ context.Context, in *cfnapi.DescribeStacksInput, _ ...func(*cfnapi.Options)) (*cfnapi.DescribeStacksOutput, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	s := r.get(aws.ToString(in.StackName))
	if s == nil {
		return nil, notFound(aws.ToString(in.StackName))
	}
	if s.polls > 0 {
		s.polls--
		if s.polls == 0 {
			r.settle(s)
		}
	}
	if s.status == cfntypes.StackStatusDeleteComplete {
		delete(r.f.stacks, r.region+"/"+s.name)
		return nil, notFound(s.name)
	}
	out := cfntypes.Stack{StackName: aws.String(s.name), StackStatus: s.status}
	if s.status == cfntypes.StackStatusCreateComplete || s.status == cfntypes.StackStatusUpdateComplete {
		out.Outputs = []cfntypes.Output{{OutputKey: aws.String("AppUrl"), OutputValue: aws.String("https://" + s.name + "." + r.region + ".example/")}}
		if s.params["PublicHealthUrl"] == "true" { // the template's HasPublicHealthUrl condition
			out.Outputs = append(out.Outputs, cfntypes.Output{OutputKey: aws.String("HealthUrl"), OutputValue: aws.String("https://" + s.name + "-health." + r.region + ".example/")})
		}
	}
	return &cfnapi.DescribeStacksOutput{Stacks: []cfntypes.Stack{out}}, nil
}

// settle finishes the operation in progress.
func (r *fakeRegion) settle(s *fakeStack) {
	switch s.next {
	case cfntypes.StackStatusRollbackComplete, cfntypes.StackStatusUpdateRollbackComplete:
		r.event(s, s.failed, "AWS::DynamoDB::GlobalTable", cfntypes.ResourceStatusCreateFailed, "Resource handler returned message: \"Table already exists: "+s.failed+"\"")
		r.event(s, "Other", "AWS::S3::Bucket", cfntypes.ResourceStatusCreateFailed, "Resource creation cancelled")
	case cfntypes.StackStatusDeleteFailed:
		r.event(s, s.failed, "AWS::S3::Bucket", cfntypes.ResourceStatusDeleteFailed, "The bucket you tried to delete is not empty")
	default:
		r.event(s, "Resources", "AWS::CloudFormation::Stack", cfntypes.ResourceStatus(s.next), "")
	}
	s.status = s.next
}

func (r *fakeRegion) CreateChangeSet(_ context.Context, in *cfnapi.CreateChangeSetInput, _ ...func(*cfnapi.Options)) (*cfnapi.CreateChangeSetOutput, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	name := aws.ToString(in.StackName)
	r.f.calls = append(r.f.calls, fmt.Sprintf("change-set %s %s %s", r.region, name, in.ChangeSetType))
	params := map[string]string{}
	for _, p := range in.Parameters {
		params[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	s := r.get(name)
	switch {
	case s == nil && (in.ChangeSetType == cfntypes.ChangeSetTypeCreate || in.ChangeSetType == cfntypes.ChangeSetTypeImport):
		s = &fakeStack{name: name, region: r.region, status: cfntypes.StackStatusReviewInProgress, pending: map[string]*fakeChangeSet{}}
		r.f.stacks[r.region+"/"+name] = s
	case s == nil:
		return nil, notFound(name)
	case in.ChangeSetType == cfntypes.ChangeSetTypeCreate && s.status != cfntypes.StackStatusReviewInProgress:
		return nil, &smithy.GenericAPIError{Code: "AlreadyExistsException", Message: "Stack [" + name + "] already exists"}
	}
	cs := &fakeChangeSet{kind: in.ChangeSetType, template: aws.ToString(in.TemplateBody), params: params, status: cfntypes.ChangeSetStatusCreateComplete}
	if s.template == cs.template && fmt.Sprint(s.params) == fmt.Sprint(params) {
		cs.status, cs.reason = cfntypes.ChangeSetStatusFailed, "The submitted information didn't contain changes. Submit different information to create a change set."
	}
	if in.ChangeSetType == cfntypes.ChangeSetTypeImport {
		// CloudFormation's rules for an import: resources named, each
		// kept on delete, and no outputs added.
		switch {
		case len(in.ResourcesToImport) == 0:
			cs.status, cs.reason = cfntypes.ChangeSetStatusFailed, "ResourcesToImport must not be empty"
		case strings.Contains(cs.template, "\nOutputs:"):
			cs.status, cs.reason = cfntypes.ChangeSetStatusFailed, "As part of the import operation, you cannot modify or add [Outputs]"
		case !strings.Contains(cs.template, "DeletionPolicy: Retain"):
			cs.status, cs.reason = cfntypes.ChangeSetStatusFailed, "The following resource types must have a DeletionPolicy attribute"
		}
		cs.imports = len(in.ResourcesToImport)
		r.f.calls = append(r.f.calls, fmt.Sprintf("import %s %s %s=%s", r.region, name, aws.ToString(in.ResourcesToImport[0].LogicalResourceId), in.ResourcesToImport[0].ResourceIdentifier["TableName"]))
	}
	s.pending[aws.ToString(in.ChangeSetName)] = cs
	return &cfnapi.CreateChangeSetOutput{}, nil
}

func (r *fakeRegion) DescribeChangeSet(_ context.Context, in *cfnapi.DescribeChangeSetInput, _ ...func(*cfnapi.Options)) (*cfnapi.DescribeChangeSetOutput, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	s := r.get(aws.ToString(in.StackName))
	if s == nil || s.pending[aws.ToString(in.ChangeSetName)] == nil {
		return nil, &smithy.GenericAPIError{Code: "ChangeSetNotFound", Message: "no change set"}
	}
	cs := s.pending[aws.ToString(in.ChangeSetName)]
	return &cfnapi.DescribeChangeSetOutput{Status: cs.status, StatusReason: aws.String(cs.reason), Changes: make([]cfntypes.Change, 3)}, nil
}

func (r *fakeRegion) ExecuteChangeSet(_ context.Context, in *cfnapi.ExecuteChangeSetInput, _ ...func(*cfnapi.Options)) (*cfnapi.ExecuteChangeSetOutput, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	s := r.get(aws.ToString(in.StackName))
	cs := s.pending[aws.ToString(in.ChangeSetName)]
	r.f.calls = append(r.f.calls, fmt.Sprintf("execute %s %s", r.region, s.name))
	delete(s.pending, aws.ToString(in.ChangeSetName))
	s.template, s.params = cs.template, cs.params
	s.polls = 2
	switch cs.kind {
	case cfntypes.ChangeSetTypeImport:
		s.status, s.next = cfntypes.StackStatusImportInProgress, cfntypes.StackStatusImportComplete
	case cfntypes.ChangeSetTypeCreate:
		s.status, s.next = cfntypes.StackStatusCreateInProgress, cfntypes.StackStatusCreateComplete
		if id := r.f.failCreate[s.name]; id != "" {
			s.next, s.failed = cfntypes.StackStatusRollbackComplete, id
		}
		if r.f.tableExists != nil && strings.Contains(cs.template, "DeletionPolicy: Retain") && r.f.tableExists(r.region, cs.params["AppName"]+"-control") {
			s.next, s.failed = cfntypes.StackStatusRollbackComplete, "ControlTable"
		}
	default:
		s.status, s.next = cfntypes.StackStatusUpdateInProgress, cfntypes.StackStatusUpdateComplete
		if id := r.f.failCreate[s.name]; id != "" {
			s.next, s.failed = cfntypes.StackStatusUpdateRollbackComplete, id
		}
	}
	r.event(s, s.name, "AWS::CloudFormation::Stack", cfntypes.ResourceStatus(s.status), "User Initiated")
	return &cfnapi.ExecuteChangeSetOutput{}, nil
}

func (r *fakeRegion) DeleteChangeSet(_ context.Context, in *cfnapi.DeleteChangeSetInput, _ ...func(*cfnapi.Options)) (*cfnapi.DeleteChangeSetOutput, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	s := r.get(aws.ToString(in.StackName))
	r.f.calls = append(r.f.calls, fmt.Sprintf("delete-change-set %s %s", r.region, s.name))
	delete(s.pending, aws.ToString(in.ChangeSetName))
	return &cfnapi.DeleteChangeSetOutput{}, nil
}

func (r *fakeRegion) DescribeStackEvents(_ context.Context, in *cfnapi.DescribeStackEventsInput, _ ...func(*cfnapi.Options)) (*cfnapi.DescribeStackEventsOutput, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	s := r.get(aws.ToString(in.StackName))
	if s == nil {
		return nil, notFound(aws.ToString(in.StackName))
	}
	out := &cfnapi.DescribeStackEventsOutput{}
	for i := len(s.events) - 1; i >= 0; i-- {
		out.StackEvents = append(out.StackEvents, s.events[i])
	}
	return out, nil
}

func (r *fakeRegion) DeleteStack(_ context.Context, in *cfnapi.DeleteStackInput, _ ...func(*cfnapi.Options)) (*cfnapi.DeleteStackOutput, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	s := r.get(aws.ToString(in.StackName))
	r.f.calls = append(r.f.calls, fmt.Sprintf("delete-stack %s %s", r.region, aws.ToString(in.StackName)))
	if s == nil {
		return &cfnapi.DeleteStackOutput{}, nil
	}
	s.status, s.next, s.polls = cfntypes.StackStatusDeleteInProgress, cfntypes.StackStatusDeleteComplete, 2
	if id := r.f.failDelete[s.name]; id != "" {
		s.next, s.failed = cfntypes.StackStatusDeleteFailed, id
	}
	r.event(s, s.name, "AWS::CloudFormation::Stack", cfntypes.ResourceStatusDeleteInProgress, "User Initiated")
	return &cfnapi.DeleteStackOutput{}, nil
}

func (r *fakeRegion) ListStackResources(_ context.Context, in *cfnapi.ListStackResourcesInput, _ ...func(*cfnapi.Options)) (*cfnapi.ListStackResourcesOutput, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	s := r.get(aws.ToString(in.StackName))
	if s == nil {
		return nil, notFound(aws.ToString(in.StackName))
	}
	out := &cfnapi.ListStackResourcesOutput{}
	if s.failed != "" && s.status == cfntypes.StackStatusDeleteFailed {
		out.StackResourceSummaries = append(out.StackResourceSummaries, cfntypes.StackResourceSummary{LogicalResourceId: aws.String(s.failed),
			ResourceType: aws.String("AWS::S3::Bucket"), ResourceStatus: cfntypes.ResourceStatusDeleteFailed, ResourceStatusReason: aws.String("The bucket you tried to delete is not empty")})
	}
	return out, nil
}

// callsMatching returns the recorded calls that start with prefix.
func (f *fakeCloud) callsMatching(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// fakeRules is EventBridge for cleanup: it logs each rule turned off in
// the fake cloud's call log; a name in missing is not there.
type fakeRules struct {
	f       *fakeCloud
	region  string
	missing map[string]bool
}

func (r fakeRules) DisableRule(_ context.Context, in *eventbridge.DisableRuleInput, _ ...func(*eventbridge.Options)) (*eventbridge.DisableRuleOutput, error) {
	name := aws.ToString(in.Name)
	if r.missing[name] {
		return nil, &ebtypes.ResourceNotFoundException{Message: aws.String("Rule " + name + " does not exist.")}
	}
	r.f.calls = append(r.f.calls, fmt.Sprintf("disable-rule %s %s", r.region, name))
	return &eventbridge.DisableRuleOutput{}, nil
}
