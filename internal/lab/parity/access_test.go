package parity

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/iampolicy"
	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/lab/access"
	"github.com/pilotlight/pilotlight/internal/lab/fnenv"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/lab/provision"
	"github.com/pilotlight/pilotlight/internal/region"
)

// Every function the lab runs gets its template role, and every policy in
// the shipped templates is one the lab evaluates (iampolicy.Parse refuses what
// it cannot).
func TestShippedTemplatesGiveEveryFunctionARole(t *testing.T) {
	c := controllerCheck()
	acc, err := Access(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"us-east-1/app", "us-east-1/healthcheck", "us-east-1/backupmanager",
		"us-west-2/app", "us-west-2/healthcheck", "us-west-2/backupmanager", "us-west-2/failovercontroller", "us-west-2/datavalidator"} {
		r, ok := acc.Roles[k]
		if !ok || len(r.Policies) == 0 {
			t.Errorf("%s: no role or no policy (%+v)", k, r)
		}
	}
	// The app role in us-east-1 may write orders there, and nothing in the
	// DR region's control table.
	app := acc.Roles["us-east-1/app"].Policies
	put := iampolicy.Request{Action: "dynamodb:PutItem", Resource: "arn:aws:dynamodb:us-east-1:000000000000:table/pilotlight-orders"}
	if d := iampolicy.Evaluate(app, put); d != iampolicy.Allow {
		t.Errorf("app PutItem on its orders table: %v", d)
	}
	put.Resource = "arn:aws:dynamodb:us-west-2:000000000000:table/pilotlight-control"
	if d := iampolicy.Evaluate(app, put); d == iampolicy.Allow {
		t.Errorf("app PutItem on the DR control table: allowed")
	}
	if got := acc.AWSBucket(c.Names.Bucket("us-east-1")); got != "pilotlight-data-000000000000-us-east-1" {
		t.Errorf("the lab's data bucket stands for %q on AWS", got)
	}
	if len(acc.BucketPolicies["pilotlight-data-000000000000-us-east-1"]) == 0 {
		t.Error("the data bucket's policy is missing")
	}
}

// Defects 3 and 4 of the AWS issue, shown by the lab: a template copy whose
// app role lacks s3:ListBucket (the orders service's /health calls
// HeadBucket) and whose health-check role lacks lambda:InvokeFunction (a
// function URL with AuthType AWS_IAM needs it besides
// lambda:InvokeFunctionUrl) runs in the lab, and the lab refuses exactly
// those calls, as AWS would, naming the role, the action and the resource.
func TestTheLabRefusesWhatATemplateDoesNotGrant(t *testing.T) {
	sv := labtest.Servers(t)
	fns := labtest.Functions(t)
	broken := Templates{Primary: Shipped.Primary, DR: Shipped.DR}
	for _, cut := range []string{
		// the app role's HeadBucket grant
		"              - Sid: HealthHeadBucket\n",
		// the health check role's second invoke action
		"              - Sid: AppHealthInvoke\n",
	} {
		i := bytes.Index(broken.Primary, []byte(cut))
		if i < 0 {
			t.Fatalf("the primary template has no %q", strings.TrimSpace(cut))
		}
		// Drop the statement: from its Sid to the next statement.
		rest := broken.Primary[i+len(cut):]
		j := bytes.Index(rest, []byte("              - Sid: "))
		broken.Primary = append(append([]byte{}, broken.Primary[:i]...), rest[j:]...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	l, err := lab.Start(ctx, lab.Options{Primary: "us-east-1", DR: "us-west-2", Dir: t.TempDir(), Servers: sv,
		Names: region.Names{App: "pilotlight"}, Logger: slog.New(slog.DiscardHandler), Functions: lab.FunctionOptions{Dir: fns},
		CheckEnv: func(c fnenv.Check) error { return CheckAgainst(c, broken) },
		Access:   func(c fnenv.Check) (access.Access, error) { return AccessFrom(c, broken) }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := map[string]string{
		"s3:ListBucket": "assumed-role/pilotlight-app-us-east-1/app is not authorized to perform: s3:ListBucket on resource: arn:aws:s3:::pilotlight-data-000000000000-us-east-1",
		// the primary health check probes both regions' URLs
		"lambda:InvokeFunction": "assumed-role/pilotlight-healthcheck-us-east-1/healthcheck is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:",
	}
	seen := map[string]bool{}
	for deadline := time.Now().Add(30 * time.Second); len(seen) < len(want); {
		if time.Now().After(deadline) {
			t.Fatalf("refusals seen: %v, want %v", seen, want)
		}
		for _, e := range l.Events(start) {
			if e.Kind != "access-denied" {
				continue
			}
			matched := false
			for action, msg := range want {
				if strings.Contains(e.Detail, msg) {
					seen[action], matched = true, true
				}
			}
			if !matched {
				t.Fatalf("a refusal the templates' grants do not explain: %s: %s", e.Region, e.Detail)
			}
		}
		time.Sleep(200 * time.Millisecond) // the poll's interval: the loop waits for the condition above
	}
}

// The lab's tables and buckets come from the templates: the orders table
// in both application regions with its stream and TTL, a control table in
// every region (the witness's from witness-region.yaml), and both versioned
// buckets in each application region, under the lab's bucket names.
func TestResourcesComeFromTheTemplates(t *testing.T) {
	res, err := Resources(controllerCheck())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"us-east-1", "us-west-2"} {
		var orders *provision.TableSpec
		for i, tb := range res.Tables[r] {
			if tb.Name == "pilotlight-orders" {
				orders = &res.Tables[r][i]
			}
		}
		if orders == nil || orders.Stream != "NEW_AND_OLD_IMAGES" || orders.TTL != "expires_at" || len(orders.Keys) != 1 || orders.Keys[0] != (provision.KeySpec{Name: "pk", Type: "S"}) {
			t.Errorf("%s: orders table %+v", r, orders)
		}
		if got := fmt.Sprint(res.Buckets[r]); !strings.Contains(got, "{pilotlight-data-"+r+" true}") || !strings.Contains(got, "{pilotlight-backup-"+r+" true}") {
			t.Errorf("%s: buckets %s", r, got)
		}
	}
	for _, r := range []string{"us-east-1", "us-west-2", "us-east-2"} {
		found := false
		for _, tb := range res.Tables[r] {
			found = found || tb.Name == "pilotlight-control" && len(tb.Keys) == 2
		}
		if !found {
			t.Errorf("%s: no control table in %+v", r, res.Tables[r])
		}
	}
}

// A template that would deploy something the lab's stand-ins cannot work
// on stops `lab up`, naming the region, the resource and why: here the
// orders table's stream shows only keys, which global tables cannot
// replicate from.
func TestLabRefusesTemplatesItCannotRun(t *testing.T) {
	sv := labtest.Servers(t)
	broken := Shipped
	broken.Primary = bytes.Replace(Shipped.Primary, []byte("StreamSpecification: { StreamViewType: NEW_AND_OLD_IMAGES }"), []byte("StreamSpecification: { StreamViewType: KEYS_ONLY }"), 1)
	if bytes.Equal(broken.Primary, Shipped.Primary) {
		t.Fatal("the primary template has no NEW_AND_OLD_IMAGES stream to break")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{Primary: "us-east-1", DR: "us-west-2", Dir: t.TempDir(), Servers: sv,
		Names: region.Names{App: "pilotlight"}, Logger: slog.New(slog.DiscardHandler),
		Resources: func(c fnenv.Check) (provision.Resources, error) { return ResourcesFrom(c, broken) }})
	if err == nil {
		l.Close()
		t.Fatal("the lab started on a template whose table streams keys only")
	}
	for _, want := range []string{"us-east-1", "pilotlight-orders", "KEYS_ONLY", "NEW_AND_OLD_IMAGES"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
