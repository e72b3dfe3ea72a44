package deploy

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/pilotlight/pilotlight/internal/region"
)

// IAM is the part of the IAM API the outage switch uses.
type IAM interface {
	PutRolePolicy(context.Context, *iam.PutRolePolicyInput, ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	DeleteRolePolicy(context.Context, *iam.DeleteRolePolicyInput, ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error)
}

// OutagePolicy is the inline policy name the switch adds.
const OutagePolicy = "pilotlight-outage-switch"

// denyAll is the outage: an explicit deny beats every allow, so the
// region's functions lose DynamoDB, S3 and everything else at once, as in
// a regional outage, while nothing is deleted. (It lives here, not in a
// template: the template checker forbids Action "*" in the stacks.)
const denyAll = `{"Version":"2012-10-17","Statement":[{"Sid":"PilotlightDrillOutage","Effect":"Deny","Action":"*","Resource":"*"}]}`

// Outage is the AWS drill's fault: it switches the primary region's
// function roles off and on.
type Outage struct {
	IAM   IAM
	Names region.Names
}

// Roles are the function roles of a region's stack (the primary's: the
// orders service, the health check, the backup manager).
func (o Outage) Roles(r string) []string {
	out := []string{}
	for _, fn := range []string{region.FnApp, region.FnHealth, region.FnBackup} {
		out = append(out, fmt.Sprintf("%s-%s-%s", o.Names.App, fn, r))
	}
	return out
}

// On puts the deny policy on every role; if one fails, those already
// switched are switched back.
func (o Outage) On(ctx context.Context, r string) ([]string, error) {
	roles := o.Roles(r)
	for i, role := range roles {
		_, err := o.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(OutagePolicy), PolicyDocument: aws.String(denyAll)})
		if err != nil {
			undo := o.off(context.WithoutCancel(ctx), roles[:i])
			return nil, errors.Join(fmt.Errorf("outage switch on %s: %w", role, err), undo)
		}
	}
	return roles, nil
}

// Off removes the deny policy wherever it is; a role without it is fine.
func (o Outage) Off(ctx context.Context, r string) error { return o.off(ctx, o.Roles(r)) }

func (o Outage) off(ctx context.Context, roles []string) error {
	var errs []error
	for _, role := range roles {
		_, err := o.IAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(OutagePolicy)})
		var nf *iamtypes.NoSuchEntityException
		if err != nil && !errors.As(err, &nf) {
			errs = append(errs, fmt.Errorf("outage switch off %s: %w (remove the inline policy %s by hand)", role, err, OutagePolicy))
		}
	}
	return errors.Join(errs...)
}
