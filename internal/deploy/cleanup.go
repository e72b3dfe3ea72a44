package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/region"
)

// Cleaner removes what Deploy created.
type Cleaner struct {
	Stacks *Stacks
	S3     func(region string) S3
	Out    io.Writer
	// Rules, when set, turns the schedules off first (nil: not done).
	Rules func(region string) Rules
}

// Rules is the part of the EventBridge API cleanup uses.
type Rules interface {
	DisableRule(ctx context.Context, in *eventbridge.DisableRuleInput, opts ...func(*eventbridge.Options)) (*eventbridge.DisableRuleOutput, error)
}

// Schedules are the rules whose functions write into the buckets cleanup
// empties (health-check canaries, snapshots) or act on the deployment: off
// first, or new versions keep arriving while a bucket is emptied and the
// stack's delete fails on a bucket that is not empty.
func Schedules(p Plan, r string) []string {
	n := p.Names
	names := []string{n.Rule(region.FnHealth), n.Rule(region.FnBackup)}
	if r == p.DR {
		names = append(names, n.Rule(region.FnValidator), n.Rule("failovercontroller-reconcile"), n.Rule("alarm-to-controller"))
	}
	return names
}

// disableSchedules turns every schedule off; a rule that is not there is
// skipped (a stack already gone, a partial deploy).
func (c *Cleaner) disableSchedules(ctx context.Context, p Plan) error {
	if c.Rules == nil {
		return nil
	}
	var errs []error
	for _, r := range []string{p.Primary, p.DR} {
		for _, name := range Schedules(p, r) {
			_, err := c.Rules(r).DisableRule(ctx, &eventbridge.DisableRuleInput{Name: aws.String(name)})
			var nf *ebtypes.ResourceNotFoundException
			switch {
			case errors.As(err, &nf):
			case err != nil:
				errs = append(errs, fmt.Errorf("turn off schedule %s (%s): %w", name, r, err))
			default:
				fmt.Fprintf(c.Out, "turned off schedule %s (%s)\n", name, r)
			}
		}
	}
	return errors.Join(errs...)
}

// CleanupStep is one thing cleanup does, in order.
type CleanupStep struct {
	Action string // empty-bucket, delete-stack, delete-bucket
	Region string
	Target string
	Exists bool
}

func (s CleanupStep) String() string {
	verb := map[string]string{"empty-bucket": "empty bucket (every version and delete marker)", "delete-stack": "delete stack", "delete-bucket": "delete bucket"}[s.Action]
	state := ""
	if !s.Exists {
		state = "  (not there: skipped)"
	}
	return fmt.Sprintf("%-48s %-40s %s%s", verb, s.Target, s.Region, state)
}

// CleanupReport says what was done and what is left.
type CleanupReport struct {
	Steps []CleanupStep
	Left  []string // stacks and buckets that still exist
}

// Steps is the cleanup plan: the Route 53 stack; then the primary's
// buckets emptied and its stack deleted (which stops replication into the
// DR buckets); then the same for the DR region; then the witness stack;
// then the artifact buckets.
func (c *Cleaner) Steps(ctx context.Context, p Plan) ([]CleanupStep, error) {
	var steps []CleanupStep
	add := func(action, r, target string) error {
		var exists bool
		var err error
		switch action {
		case "delete-stack":
			exists, err = c.Stacks.Exists(ctx, Stack{Region: r, Name: target})
		default:
			exists, err = c.bucketExists(ctx, r, target)
		}
		if err != nil {
			return err
		}
		steps = append(steps, CleanupStep{Action: action, Region: r, Target: target, Exists: exists})
		return nil
	}
	var errs []error
	errs = append(errs, add("delete-stack", p.Primary, p.Names.Stack("global")))
	for _, r := range []string{p.Primary, p.DR} {
		kind := "primary"
		if r == p.DR {
			kind = "dr"
		}
		errs = append(errs,
			add("empty-bucket", r, p.Names.Bucket(r)),
			add("empty-bucket", r, p.Names.BackupBucket(r)),
			add("delete-stack", r, p.Names.Stack(kind)))
	}
	if p.HasWitness() {
		// Its control table is retained (epochs must never go back): the
		// stack goes, the table stays until deleted by hand.
		errs = append(errs, add("delete-stack", p.Witness, p.Names.Stack("witness")))
	}
	for _, r := range []string{p.Primary, p.DR} {
		errs = append(errs, add("empty-bucket", r, p.ArtifactBucket(r)), add("delete-bucket", r, p.ArtifactBucket(r)))
	}
	return steps, errors.Join(errs...)
}

func (c *Cleaner) bucketExists(ctx context.Context, r, bucket string) (bool, error) {
	_, err := c.S3(r).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return true, nil
	}
	var nf interface{ ErrorCode() string }
	if errors.As(err, &nf) && (nf.ErrorCode() == "NotFound" || nf.ErrorCode() == "NoSuchBucket") {
		return false, nil
	}
	return false, fmt.Errorf("look for bucket %s in %s: %w", bucket, r, err)
}

// Run carries out the steps (all of them, even after a failure, so as much
// as possible is removed), then reports what is left.
func (c *Cleaner) Run(ctx context.Context, p Plan) (*CleanupReport, error) {
	steps, err := c.Steps(ctx, p)
	if err != nil {
		return nil, err
	}
	rep := &CleanupReport{Steps: steps}
	var errs []error
	errs = append(errs, c.disableSchedules(ctx, p))
	for _, s := range steps {
		if !s.Exists {
			continue
		}
		switch s.Action {
		case "empty-bucket":
			n, err := region.DeleteVersions(ctx, c.S3(s.Region), s.Target, "")
			fmt.Fprintf(c.Out, "emptied %s (%s): %d versions and delete markers removed\n", s.Target, s.Region, n)
			errs = append(errs, err)
		case "delete-stack":
			fmt.Fprintf(c.Out, "deleting stack %s (%s)\n", s.Target, s.Region)
			errs = append(errs, c.Stacks.Delete(ctx, Stack{Region: s.Region, Name: s.Target}))
		case "delete-bucket":
			_, err := c.S3(s.Region).DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(s.Target)})
			if err != nil {
				err = fmt.Errorf("delete bucket %s: %w", s.Target, err)
			} else {
				fmt.Fprintf(c.Out, "deleted bucket %s (%s)\n", s.Target, s.Region)
			}
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	after, lerr := c.Steps(context.WithoutCancel(ctx), p)
	if lerr == nil {
		rep.Left = leftovers(after)
	}
	return rep, errors.Join(append(errs, lerr)...)
}

// leftovers lists what still exists: every stack, every artifact bucket,
// and a stack's bucket once its stack is gone (while the stack exists, the
// stack is what is left).
func leftovers(steps []CleanupStep) []string {
	var left []string
	stackIn := map[string]bool{}
	for _, s := range steps {
		if s.Action == "delete-stack" && s.Exists {
			stackIn[s.Region] = true
			left = append(left, fmt.Sprintf("stack %s (%s)", s.Target, s.Region))
		}
	}
	for _, s := range steps {
		switch {
		case !s.Exists:
		case s.Action == "delete-bucket":
			left = append(left, fmt.Sprintf("bucket %s (%s)", s.Target, s.Region))
		case s.Action == "empty-bucket" && !stackIn[s.Region] && !isArtifactStep(steps, s):
			left = append(left, fmt.Sprintf("bucket %s (%s)", s.Target, s.Region))
		}
	}
	return left
}

func isArtifactStep(steps []CleanupStep, e CleanupStep) bool {
	for _, s := range steps {
		if s.Action == "delete-bucket" && s.Target == e.Target {
			return true
		}
	}
	return false
}
