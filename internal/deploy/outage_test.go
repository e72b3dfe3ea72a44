package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/pilotlight/pilotlight/internal/region"
)

type fakeIAM struct {
	policies map[string]string // role -> document
	failOn   string
}

func (f *fakeIAM) PutRolePolicy(_ context.Context, in *iam.PutRolePolicyInput, _ ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error) {
	if aws.ToString(in.RoleName) == f.failOn {
		return nil, errors.New("AccessDenied")
	}
	f.policies[aws.ToString(in.RoleName)+"/"+aws.ToString(in.PolicyName)] = aws.ToString(in.PolicyDocument)
	return &iam.PutRolePolicyOutput{}, nil
}

func (f *fakeIAM) DeleteRolePolicy(_ context.Context, in *iam.DeleteRolePolicyInput, _ ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error) {
	k := aws.ToString(in.RoleName) + "/" + aws.ToString(in.PolicyName)
	if _, ok := f.policies[k]; !ok {
		return nil, &iamtypes.NoSuchEntityException{Message: aws.String("not found")}
	}
	delete(f.policies, k)
	return &iam.DeleteRolePolicyOutput{}, nil
}

func TestOutageSwitch(t *testing.T) {
	f := &fakeIAM{policies: map[string]string{}}
	o := Outage{IAM: f, Names: region.Names{App: "pl"}}
	ctx := context.Background()
	roles, err := o.On(ctx, "us-east-1")
	if err != nil || len(roles) != 3 || len(f.policies) != 3 {
		t.Fatalf("on: %v %v %v", roles, err, f.policies)
	}
	// The roles are the primary stack's function roles, by the template's naming.
	for _, r := range roles {
		if !strings.HasPrefix(r, "pl-") || !strings.HasSuffix(r, "-us-east-1") {
			t.Fatalf("role %s", r)
		}
	}
	var doc struct {
		Statement []struct{ Effect, Action, Resource string }
	}
	if err := json.Unmarshal([]byte(f.policies["pl-app-us-east-1/"+OutagePolicy]), &doc); err != nil || doc.Statement[0].Effect != "Deny" || doc.Statement[0].Action != "*" {
		t.Fatalf("policy: %v %+v", err, doc)
	}
	if err := o.Off(ctx, "us-east-1"); err != nil || len(f.policies) != 0 {
		t.Fatalf("off: %v %v", err, f.policies)
	}
	// Off twice (an interrupted drill's cleanup, then the next drill's
	// preparation) is fine.
	if err := o.Off(ctx, "us-east-1"); err != nil {
		t.Fatal(err)
	}
	// A failure part way switches back what it had switched on.
	f.failOn = "pl-healthcheck-us-east-1"
	if _, err := o.On(ctx, "us-east-1"); err == nil || len(f.policies) != 0 {
		t.Fatalf("partial on: %v, left %v", err, f.policies)
	}
}
