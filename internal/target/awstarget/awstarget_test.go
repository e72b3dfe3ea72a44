package awstarget

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/pilotlight/pilotlight/cloudformation"
	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/deploy"
	"github.com/pilotlight/pilotlight/internal/deploy/cfn"
	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/protect"
	"github.com/pilotlight/pilotlight/internal/protect/inventory"
	"github.com/pilotlight/pilotlight/internal/region"
)

// deployedControllerEnv is the failover controller's environment as
// CloudFormation would set it from dr-region.yaml for plan.
func deployedControllerEnv(t *testing.T, p deploy.Plan) map[string]string {
	t.Helper()
	tpl, err := cfn.Parse("dr-region.yaml", cloudformation.DR)
	if err != nil {
		t.Fatal(err)
	}
	r := &cfn.Resolver{T: tpl, Params: p.DRParameters(nil, "https://primary.example/"), Region: p.DR, Account: p.Names.Account,
		Attr: func(id, attr string) (string, bool) {
			switch id + "." + attr {
			case "AppFunctionUrl.FunctionUrl":
				return "https://dr.example/", true
			case "NotificationTopic.":
				return "arn:aws:sns:" + p.DR + ":" + p.Names.Account + ":" + p.Names.App + "-failover", true
			}
			return "", false
		}}
	fns, err := r.Functions()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fns {
		if f.Name == p.Names.Function(region.FnController) {
			return f.Env
		}
	}
	t.Fatalf("dr-region.yaml has no %s", p.Names.Function(region.FnController))
	return nil
}

// The operator's controller on AWS is the failover-controller function's:
// the same witness, lease, agreement wait and dwell, read from the deployed
// function, for both detection profiles. (At aa72caa the CLI built its
// controller with no witness and control.AWSLease's 20 s term, while the
// free profile's function used the witness and a 60 s term.)
func TestAWSControllerIsTheFunctions(t *testing.T) {
	names := region.Names{App: "shop", Account: "123456789012"}
	for _, tc := range []struct {
		profile, witness string
		term             time.Duration
	}{
		{"free", "us-east-2", 60 * time.Second},
		{"fast", "us-east-2", 20 * time.Second},
		{"fast", "", 20 * time.Second},
	} {
		t.Run(tc.profile+"/witness="+tc.witness, func(t *testing.T) {
			p := deploy.Plan{Names: names, Primary: "us-east-1", DR: "us-west-2", Witness: tc.witness, Profile: tc.profile}
			vars := deployedControllerEnv(t, p)
			// What the function itself runs with: its environment, as
			// lambda/failovercontroller reads it.
			fenv, err := config.LoadFunctionEnv(func(k string) string {
				switch k {
				case "AWS_REGION":
					return p.DR
				case "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY":
					return "role-credentials"
				}
				return vars[k]
			})
			if err != nil {
				t.Fatal(err)
			}
			// The function's controller, built as its main builds it.
			want := failover.New(failover.Config{Names: fenv.Names(), Deployment: failover.DeploymentOf(fenv)}).Deployment()

			var asked []string
			var connected []string
			aw := &AWS{PrimaryRegion: p.Primary, DRRegion: p.DR, AppNames: names,
				FunctionEnv: func(_ context.Context, r, fn string) (map[string]string, error) {
					asked = append(asked, r+"/"+fn)
					return vars, nil
				},
				ControlClients: func(r string) (*region.Clients, error) {
					connected = append(connected, r)
					return region.New(region.Spec{Name: r, Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""),
						Endpoints: map[region.Service]string{region.DynamoDB: "http://127.0.0.1:9"}})
				}}
			fc, err := aw.Controller(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := fc.Deployment(); got != want {
				t.Fatalf("the CLI's controller on AWS runs with\n  %s\nthe function with\n  %s", got, want)
			}
			if fc.LeaseConfig().Term != tc.term || fc.Witness() != tc.witness {
				t.Fatalf("lease term %s, witness %q; want %s and %q", fc.LeaseConfig().Term, fc.Witness(), tc.term, tc.witness)
			}
			wantStores := 2
			if tc.witness != "" {
				wantStores = 3
			}
			if len(fc.Stores()) != wantStores || len(connected) != wantStores {
				t.Fatalf("control stores %v (connected %v), want %d", fc.Stores(), connected, wantStores)
			}
			if strings.Join(asked, ",") != "us-west-2/shop-failovercontroller" {
				t.Fatalf("read the deployment from %v, want the DR region's controller only", asked)
			}
		})
	}
}

func TestAWSControllerRefusesOtherRegions(t *testing.T) {
	names := region.Names{App: "shop", Account: "123456789012"}
	vars := deployedControllerEnv(t, deploy.Plan{Names: names, Primary: "us-east-1", DR: "us-west-2", Witness: "us-east-2", Profile: "free"})
	aw := &AWS{PrimaryRegion: "eu-west-1", DRRegion: "us-west-2", AppNames: names,
		FunctionEnv: func(context.Context, string, string) (map[string]string, error) { return vars, nil }}
	_, err := aw.Controller(context.Background())
	if err == nil || !strings.Contains(err.Error(), "protects us-east-1 → us-west-2") || !strings.Contains(err.Error(), "AWS_DEFAULT_REGION") {
		t.Fatalf("err = %v; want the deployed regions named and the fix", err)
	}
	aw.FunctionEnv = func(context.Context, string, string) (map[string]string, error) {
		return map[string]string{"PILOTLIGHT_LEASE_TERM": "soon"}, nil
	}
	if _, err := aw.Controller(context.Background()); err == nil || !strings.Contains(err.Error(), "PILOTLIGHT_LEASE_TERM") {
		t.Fatalf("a broken deployed environment: err = %v; want the setting named", err)
	}
}

// stsServer answers GetCallerIdentity and records the region each request
// was signed for.
type stsServer struct {
	mu      sync.Mutex
	regions []string
	down    map[string]bool
}

var scope = regexp.MustCompile(`Credential=[^/]+/\d+/([^/]+)/sts/`)

func (s *stsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := scope.FindStringSubmatch(r.Header.Get("Authorization"))
	reg := ""
	if m != nil {
		reg = m[1]
	}
	s.mu.Lock()
	s.regions = append(s.regions, reg)
	down := s.down[reg]
	s.mu.Unlock()
	if down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprint(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
		`<Arn>arn:aws:iam::123456789012:user/op</Arn><UserId>AIDA</UserId><Account>123456789012</Account>`+
		`</GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
}

// Connecting asks the DR region's STS: a recovery command needs nothing
// from the primary region. (At aa72caa it asked the primary's only.)
func TestConnectAccountAsksTheDRRegion(t *testing.T) {
	srv := &stsServer{down: map[string]bool{}}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	t.Setenv("AWS_ENDPOINT_URL_STS", hs.URL)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	s := config.Settings{PrimaryRegion: "us-east-1", DRRegion: "us-west-2", AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "example"}
	srv.down["us-east-1"] = true // the primary region is down
	a, err := ConnectAccount(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "123456789012" || len(srv.regions) == 0 || srv.regions[0] != "us-west-2" {
		t.Fatalf("account %q, STS asked in %v; want the DR region first", a.ID, srv.regions)
	}
	for _, r := range srv.regions {
		if r == "us-east-1" {
			t.Fatalf("STS asked in the failed primary region: %v", srv.regions)
		}
	}
	// With the DR region's STS down, the primary's answers.
	srv.down = map[string]bool{"us-west-2": true}
	srv.regions = nil
	if _, err := ConnectAccount(context.Background(), s); err != nil {
		t.Fatalf("DR STS down, primary up: %v", err)
	}
}

// On AWS the failback's drain proves what protect apply adopted, read
// from the applied plans: each table, and each bucket with its replica; a
// plan applied for other regions is not this deployment's.
func TestAWSDrainProvesTheProtectedApplications(t *testing.T) {
	dir := t.TempDir()
	shop := protect.Plan{App: "shop", Primary: "us-east-1", DR: "us-west-2", Inventory: inventory.Inventory{
		Tables: []inventory.Table{{Name: "shop-carts"}}, Buckets: []inventory.Bucket{{Name: "shop-media"}}}}
	other := protect.Plan{App: "other", Primary: "eu-west-1", DR: "eu-central-1", Inventory: inventory.Inventory{Tables: []inventory.Table{{Name: "other-t"}}}}
	for _, p := range []protect.Plan{shop, other} {
		if err := protect.WriteApplied(dir, p); err != nil {
			t.Fatal(err)
		}
	}
	aw := &AWS{PrimaryRegion: "us-east-1", DRRegion: "us-west-2", ProtectDir: dir}
	a, err := aw.adopted(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(a.Tables, ",") != "shop-carts" || len(a.Buckets) != 1 || a.Buckets[0]["us-east-1"] != "shop-media" || a.Buckets[0]["us-west-2"] != "shop-media-us-west-2" {
		t.Fatalf("adopted %+v", a)
	}
	if a, err := (&AWS{PrimaryRegion: "us-east-1", DRRegion: "us-west-2"}).adopted(context.Background()); err != nil || len(a.Tables)+len(a.Buckets) != 0 {
		t.Fatalf("no protect dir: %+v %v", a, err)
	}
}
