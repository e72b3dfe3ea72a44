package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfnapi "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"github.com/pilotlight/pilotlight/internal/clock"
)

// CloudFormation is the part of the CloudFormation API that deploy and
// cleanup use: the SDK client satisfies it, and tests use a fake.
type CloudFormation interface {
	DescribeStacks(context.Context, *cfnapi.DescribeStacksInput, ...func(*cfnapi.Options)) (*cfnapi.DescribeStacksOutput, error)
	CreateChangeSet(context.Context, *cfnapi.CreateChangeSetInput, ...func(*cfnapi.Options)) (*cfnapi.CreateChangeSetOutput, error)
	DescribeChangeSet(context.Context, *cfnapi.DescribeChangeSetInput, ...func(*cfnapi.Options)) (*cfnapi.DescribeChangeSetOutput, error)
	ExecuteChangeSet(context.Context, *cfnapi.ExecuteChangeSetInput, ...func(*cfnapi.Options)) (*cfnapi.ExecuteChangeSetOutput, error)
	DeleteChangeSet(context.Context, *cfnapi.DeleteChangeSetInput, ...func(*cfnapi.Options)) (*cfnapi.DeleteChangeSetOutput, error)
	DescribeStackEvents(context.Context, *cfnapi.DescribeStackEventsInput, ...func(*cfnapi.Options)) (*cfnapi.DescribeStackEventsOutput, error)
	DeleteStack(context.Context, *cfnapi.DeleteStackInput, ...func(*cfnapi.Options)) (*cfnapi.DeleteStackOutput, error)
	ListStackResources(context.Context, *cfnapi.ListStackResourcesInput, ...func(*cfnapi.Options)) (*cfnapi.ListStackResourcesOutput, error)
}

// Stack is one stack to deploy.
type Stack struct {
	Kind       string // dr, primary, global
	Region     string
	Name       string
	Template   []byte
	Parameters map[string]string
	// Adopt lists resources the template keeps when its stack is deleted
	// (DeletionPolicy Retain) under a fixed name: when the stack is
	// created and one exists, it is imported instead of created.
	Adopt []Adoption
	// ImportTemplate is the template of that import when it must hold
	// only the imported resources (nil: Template without its Outputs).
	ImportTemplate []byte
}

// Adoption is a kept resource a new stack imports when it exists.
type Adoption struct {
	LogicalID  string            // the template's logical ID
	Type       string            // e.g. AWS::DynamoDB::Table
	Identifier map[string]string // e.g. TableName → pilotlight-control
	Exists     func(ctx context.Context) (bool, error)
}

// StackResult is what a deploy of one stack did.
type StackResult struct {
	Name      string
	Region    string
	NoChanges bool
	Created   bool
	Outputs   map[string]string
}

// StackError is a stack that failed: the first resource that failed and
// why, as CloudFormation reported it.
type StackError struct {
	Stack, Region, Status string
	Resource, Type        string
	Reason                string
}

func (e *StackError) Error() string {
	if e.Resource == "" {
		return fmt.Sprintf("stack %s in %s ended %s", e.Stack, e.Region, e.Status)
	}
	return fmt.Sprintf("stack %s in %s ended %s: %s (%s) failed: %s", e.Stack, e.Region, e.Status, e.Resource, e.Type, e.Reason)
}

// Stacks deploys stacks through change sets and shows their events.
type Stacks struct {
	// Client returns the CloudFormation client of a region.
	Client func(region string) CloudFormation
	Out    io.Writer
	// Poll is the interval between status reads (default 3s).
	Poll time.Duration
	// Sleep waits (tests make it instant); nil means a context-aware timer.
	Sleep func(context.Context, time.Duration) error
	Now   func() time.Time
	// ChangeSetName names change sets (tests); nil uses the time.
	ChangeSetName func() string
}

func (s *Stacks) defaults() {
	if s.Poll == 0 {
		s.Poll = 3 * time.Second
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Sleep == nil {
		s.Sleep = clock.Sleep
	}
	if s.ChangeSetName == nil {
		s.ChangeSetName = func() string { return fmt.Sprintf("pilotlight-%d", s.Now().UnixNano()) }
	}
	if s.Out == nil {
		s.Out = io.Discard
	}
}

func isNotFound(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), "does not exist")
}

// describe returns the stack, or nil when it does not exist.
func (s *Stacks) describe(ctx context.Context, c CloudFormation, name string) (*cfntypes.Stack, error) {
	out, err := c.DescribeStacks(ctx, &cfnapi.DescribeStacksInput{StackName: aws.String(name)})
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe stack %s: %w", name, err)
	}
	if len(out.Stacks) == 0 || out.Stacks[0].StackStatus == cfntypes.StackStatusDeleteComplete {
		return nil, nil
	}
	return &out.Stacks[0], nil
}

// inProgress reports whether CloudFormation is working on the stack.
// REVIEW_IN_PROGRESS is not work: it is a stack whose first change set was
// never executed, and it stays so until one is.
func inProgress(st cfntypes.StackStatus) bool {
	return strings.HasSuffix(string(st), "_IN_PROGRESS") && st != cfntypes.StackStatusReviewInProgress
}

// Deploy creates or updates one stack through a change set. A change set
// with no changes is success. A stack left busy by an interrupted deploy is
// waited for; one left in ROLLBACK_COMPLETE (a failed first create) is
// deleted and created again.
func (s *Stacks) Deploy(ctx context.Context, st Stack) (*StackResult, error) {
	s.defaults()
	c := s.Client(st.Region)
	res := &StackResult{Name: st.Name, Region: st.Region}
	cur, err := s.describe(ctx, c, st.Name)
	if err != nil {
		return nil, err
	}
	if cur != nil && inProgress(cur.StackStatus) {
		fmt.Fprintf(s.Out, "%s (%s) is %s, left by an earlier run: waiting for it to finish\n", st.Name, st.Region, cur.StackStatus)
		if cur, err = s.wait(ctx, c, st, s.Now().Add(-time.Hour), nil); err != nil {
			return nil, err
		}
	}
	if cur != nil && cur.StackStatus == cfntypes.StackStatusRollbackComplete {
		fmt.Fprintf(s.Out, "%s (%s) is ROLLBACK_COMPLETE from a failed first create: deleting it to start over\n", st.Name, st.Region)
		if err := s.delete(ctx, c, st); err != nil {
			return nil, err
		}
		cur = nil
	}
	kind := cfntypes.ChangeSetTypeUpdate
	if cur == nil || cur.StackStatus == cfntypes.StackStatusReviewInProgress {
		kind, res.Created = cfntypes.ChangeSetTypeCreate, true
		imports, err := s.adoptable(ctx, st)
		if err != nil {
			return nil, err
		}
		if len(imports) > 0 {
			// A create would fail on the kept resource's name: import it
			// into a new stack first (an import may add no outputs), then
			// update the stack to the whole template.
			fmt.Fprintf(s.Out, "%s (%s): importing %d existing resource(s)\n", st.Name, st.Region, len(imports))
			tpl := st.ImportTemplate
			if tpl == nil {
				tpl = withoutOutputs(st.Template)
			}
			imported, since, _, err := s.apply(ctx, c, st, cfntypes.ChangeSetTypeImport, tpl, imports)
			if err != nil {
				return nil, err
			}
			if imported.StackStatus != cfntypes.StackStatusImportComplete {
				return nil, s.failure(ctx, c, st, imported.StackStatus, since)
			}
			kind, cur = cfntypes.ChangeSetTypeUpdate, imported
		}
	}
	final, since, noChanges, err := s.apply(ctx, c, st, kind, st.Template, nil)
	if err != nil {
		return nil, err
	}
	if noChanges {
		// Nothing ran: the stack is as described before the change set.
		res.NoChanges, res.Outputs = true, outputs(cur)
		return res, nil
	}
	switch final.StackStatus {
	case cfntypes.StackStatusCreateComplete, cfntypes.StackStatusUpdateComplete:
		res.Outputs = outputs(final)
		return res, nil
	}
	return nil, s.failure(ctx, c, st, final.StackStatus, since)
}

// adoptable returns the imports for the stack's kept resources that exist.
func (s *Stacks) adoptable(ctx context.Context, st Stack) ([]cfntypes.ResourceToImport, error) {
	var out []cfntypes.ResourceToImport
	for _, a := range st.Adopt {
		ok, err := a.Exists(ctx)
		if err != nil {
			return nil, fmt.Errorf("deploy %s in %s: is %s (%s) already there? %w", st.Name, st.Region, a.LogicalID, a.Type, err)
		}
		if ok {
			out = append(out, cfntypes.ResourceToImport{LogicalResourceId: aws.String(a.LogicalID), ResourceType: aws.String(a.Type), ResourceIdentifier: a.Identifier})
		}
	}
	return out, nil
}

// apply runs one change set of kind with template and waits for the stack
// to settle (started: when it was executed); noChanges reports a change
// set that had nothing to do (deleted, not executed).
func (s *Stacks) apply(ctx context.Context, c CloudFormation, st Stack, kind cfntypes.ChangeSetType, template []byte, imports []cfntypes.ResourceToImport) (final *cfntypes.Stack, started time.Time, noChanges bool, err error) {
	params := make([]cfntypes.Parameter, 0, len(st.Parameters))
	keys := make([]string, 0, len(st.Parameters))
	for k := range st.Parameters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		params = append(params, cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(st.Parameters[k])})
	}
	csName := s.ChangeSetName()
	_, err = c.CreateChangeSet(ctx, &cfnapi.CreateChangeSetInput{
		StackName: aws.String(st.Name), ChangeSetName: aws.String(csName), ChangeSetType: kind,
		TemplateBody: aws.String(string(template)), Parameters: params, ResourcesToImport: imports,
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam},
		Tags:         []cfntypes.Tag{{Key: aws.String("pilotlight:stack"), Value: aws.String(st.Kind)}},
	})
	if err != nil {
		return nil, started, false, fmt.Errorf("create change set for %s in %s: %w", st.Name, st.Region, err)
	}
	for {
		cs, err := c.DescribeChangeSet(ctx, &cfnapi.DescribeChangeSetInput{StackName: aws.String(st.Name), ChangeSetName: aws.String(csName)})
		if err != nil {
			return nil, started, false, fmt.Errorf("describe change set %s: %w", csName, err)
		}
		if cs.Status == cfntypes.ChangeSetStatusCreateComplete {
			fmt.Fprintf(s.Out, "%s (%s): %d changes\n", st.Name, st.Region, len(cs.Changes))
			break
		}
		if cs.Status == cfntypes.ChangeSetStatusFailed {
			reason := aws.ToString(cs.StatusReason)
			if strings.Contains(reason, "didn't contain changes") || strings.Contains(reason, "No updates are to be performed") {
				_, _ = c.DeleteChangeSet(ctx, &cfnapi.DeleteChangeSetInput{StackName: aws.String(st.Name), ChangeSetName: aws.String(csName)})
				fmt.Fprintf(s.Out, "%s (%s): no changes\n", st.Name, st.Region)
				return nil, started, true, nil
			}
			return nil, started, false, fmt.Errorf("change set for %s in %s failed: %s", st.Name, st.Region, reason)
		}
		if err := s.Sleep(ctx, s.Poll); err != nil {
			return nil, started, false, err
		}
	}
	started = s.Now()
	seen := s.seenEvents(ctx, c, st.Name)
	if _, err := c.ExecuteChangeSet(ctx, &cfnapi.ExecuteChangeSetInput{StackName: aws.String(st.Name), ChangeSetName: aws.String(csName)}); err != nil {
		return nil, started, false, fmt.Errorf("execute change set for %s in %s: %w", st.Name, st.Region, err)
	}
	final, err = s.wait(ctx, c, st, started.Add(-time.Hour), seen)
	return final, started, false, err
}

// withoutOutputs is a template with its top-level Outputs section removed
// (an import change set may not add outputs). The templates are YAML whose
// top-level keys start at column 0.
func withoutOutputs(template []byte) []byte {
	var out []string
	skip := false
	for _, line := range strings.SplitAfter(string(template), "\n") {
		top := line != "" && line[0] != ' ' && line[0] != '\t' && line[0] != '#' && line[0] != '\n'
		if top {
			skip = strings.HasPrefix(line, "Outputs:")
		}
		if !skip {
			out = append(out, line)
		}
	}
	return []byte(strings.Join(out, ""))
}

// wait polls until the stack leaves *_IN_PROGRESS, printing its new events.
func (s *Stacks) wait(ctx context.Context, c CloudFormation, st Stack, since time.Time, seen map[string]bool) (*cfntypes.Stack, error) {
	if seen == nil {
		seen = map[string]bool{}
	}
	live := isTerminal(s.Out)
	began := s.Now()
	for {
		cur, err := s.describe(ctx, c, st.Name)
		if err != nil {
			return nil, err
		}
		if err := s.events(ctx, c, st, since, seen, live); err != nil {
			return nil, err
		}
		if cur == nil {
			return &cfntypes.Stack{StackStatus: cfntypes.StackStatusDeleteComplete}, nil
		}
		if !inProgress(cur.StackStatus) {
			if live {
				fmt.Fprint(s.Out, "\r\033[K")
			}
			return cur, nil
		}
		if live {
			fmt.Fprintf(s.Out, "\r\033[K  %s (%s) %s %s", st.Name, st.Region, cur.StackStatus, s.Now().Sub(began).Round(time.Second))
		}
		if err := s.Sleep(ctx, s.Poll); err != nil {
			return nil, err
		}
	}
}

// events prints the stack's events since a time, oldest first, once each.
func (s *Stacks) events(ctx context.Context, c CloudFormation, st Stack, since time.Time, seen map[string]bool, live bool) error {
	var fresh []cfntypes.StackEvent
	in := &cfnapi.DescribeStackEventsInput{StackName: aws.String(st.Name)}
	for page := 0; page < 5; page++ {
		out, err := c.DescribeStackEvents(ctx, in)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("stack events of %s: %w", st.Name, err)
		}
		done := false
		for _, e := range out.StackEvents { // newest first
			if aws.ToTime(e.Timestamp).Before(since) || seen[aws.ToString(e.EventId)] {
				done = true
				break
			}
			fresh = append(fresh, e)
		}
		if done || out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	for i := len(fresh) - 1; i >= 0; i-- {
		e := fresh[i]
		seen[aws.ToString(e.EventId)] = true
		if live {
			fmt.Fprint(s.Out, "\r\033[K")
		}
		line := fmt.Sprintf("  %s  %-28s %-34s %s", aws.ToTime(e.Timestamp).UTC().Format("15:04:05"), aws.ToString(e.LogicalResourceId), aws.ToString(e.ResourceType), e.ResourceStatus)
		if r := aws.ToString(e.ResourceStatusReason); r != "" {
			line += "  " + r
		}
		fmt.Fprintln(s.Out, line)
	}
	return nil
}

// failure finds the first resource that failed since the change set ran.
func (s *Stacks) failure(ctx context.Context, c CloudFormation, st Stack, status cfntypes.StackStatus, since time.Time) error {
	se := &StackError{Stack: st.Name, Region: st.Region, Status: string(status)}
	out, err := c.DescribeStackEvents(ctx, &cfnapi.DescribeStackEventsInput{StackName: aws.String(st.Name)})
	if err != nil {
		return se
	}
	for i := len(out.StackEvents) - 1; i >= 0; i-- { // oldest first
		e := out.StackEvents[i]
		if aws.ToTime(e.Timestamp).Before(since.Add(-5 * time.Second)) {
			continue
		}
		reason := aws.ToString(e.ResourceStatusReason)
		if strings.HasSuffix(string(e.ResourceStatus), "_FAILED") && !strings.Contains(reason, "cancelled") && aws.ToString(e.LogicalResourceId) != st.Name {
			se.Resource, se.Type, se.Reason = aws.ToString(e.LogicalResourceId), aws.ToString(e.ResourceType), reason
			break
		}
	}
	return se
}

func outputs(st *cfntypes.Stack) map[string]string {
	out := map[string]string{}
	if st == nil {
		return out
	}
	for _, o := range st.Outputs {
		out[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return out
}

// Delete removes a stack and waits; a stack that does not exist is done.
// A failed deletion names the resources left behind.
func (s *Stacks) Delete(ctx context.Context, st Stack) error {
	s.defaults()
	return s.delete(ctx, s.Client(st.Region), st)
}

func (s *Stacks) delete(ctx context.Context, c CloudFormation, st Stack) error {
	cur, err := s.describe(ctx, c, st.Name)
	if err != nil || cur == nil {
		return err
	}
	seen := s.seenEvents(ctx, c, st.Name)
	if _, err := c.DeleteStack(ctx, &cfnapi.DeleteStackInput{StackName: aws.String(st.Name)}); err != nil {
		return fmt.Errorf("delete stack %s in %s: %w", st.Name, st.Region, err)
	}
	final, err := s.wait(ctx, c, st, s.Now().Add(-time.Hour), seen)
	if err != nil {
		return err
	}
	if final.StackStatus == cfntypes.StackStatusDeleteComplete {
		return nil
	}
	se := &StackError{Stack: st.Name, Region: st.Region, Status: string(final.StackStatus)}
	if out, err := c.ListStackResources(ctx, &cfnapi.ListStackResourcesInput{StackName: aws.String(st.Name)}); err == nil {
		for _, r := range out.StackResourceSummaries {
			if r.ResourceStatus == cfntypes.ResourceStatusDeleteFailed {
				se.Resource, se.Type, se.Reason = aws.ToString(r.LogicalResourceId), aws.ToString(r.ResourceType), aws.ToString(r.ResourceStatusReason)
				break
			}
		}
	}
	return se
}

// Parameters returns a stack's parameter values, or nil when it does not
// exist.
func (s *Stacks) Parameters(ctx context.Context, st Stack) (map[string]string, error) {
	s.defaults()
	cur, err := s.describe(ctx, s.Client(st.Region), st.Name)
	if err != nil || cur == nil {
		return nil, err
	}
	out := map[string]string{}
	for _, p := range cur.Parameters {
		out[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	return out, nil
}

// Outputs returns a stack's outputs, or nil when it does not exist.
func (s *Stacks) Outputs(ctx context.Context, st Stack) (map[string]string, error) {
	s.defaults()
	cur, err := s.describe(ctx, s.Client(st.Region), st.Name)
	if err != nil || cur == nil {
		return nil, err
	}
	return outputs(cur), nil
}

// seenEvents returns the IDs of the stack's latest events, so that only
// events after them are shown.
func (s *Stacks) seenEvents(ctx context.Context, c CloudFormation, name string) map[string]bool {
	seen := map[string]bool{}
	out, err := c.DescribeStackEvents(ctx, &cfnapi.DescribeStackEventsInput{StackName: aws.String(name)})
	if err != nil {
		return seen
	}
	for _, e := range out.StackEvents {
		seen[aws.ToString(e.EventId)] = true
	}
	return seen
}

// Exists reports whether a stack exists (in any state but deleted).
func (s *Stacks) Exists(ctx context.Context, st Stack) (bool, error) {
	s.defaults()
	cur, err := s.describe(ctx, s.Client(st.Region), st.Name)
	return cur != nil, err
}

// isTerminal reports whether w is a terminal, where a live status line is
// rewritten in place; elsewhere only plain event lines are written.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
