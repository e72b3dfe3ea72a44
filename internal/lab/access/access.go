package access

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/pilotlight/pilotlight/internal/iampolicy"
)

// Access is what the templates grant the lab's functions (Options.Access;
// parity.Access resolves it from cloudformation/*.yaml).
type Access struct {
	Account string
	// Roles: "region/function" -> the role the template gives it there.
	Roles map[string]Role
	// BucketPolicies by the bucket's name on AWS.
	BucketPolicies map[string][]iampolicy.Policy
	// AWSBucket maps a lab bucket name to the name the templates give it
	// (the lab's carry no account ID); nil keeps it.
	AWSBucket func(string) string
}

// Role is a template role: its name and inline policies.
type Role struct {
	Name     string
	Policies []iampolicy.Policy
}

// Denial is one request the lab refused.
type Denial struct {
	Region    string
	Principal string // the assumed-role ARN
	Action    string
	Resource  string
}

func (d Denial) String() string {
	return fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action",
		d.Principal, d.Action, d.Resource, d.Action)
}

// principal is one function's lab session.
type principal struct {
	region, function string
	role             Role
	key, secret      string
}

func (p *principal) arn(account string) string {
	return "arn:aws:sts::" + account + ":assumed-role/" + p.role.Name + "/" + p.function
}

// Authorizer decides requests by their access key (the lab's IAM).
type Authorizer struct {
	access Access
	admin  aws.Credentials
	byKey  map[string]*principal
	denied func(Denial)

	signOnce sync.Once
	signer   *v4.Signer
}

// New gives each function in access.Roles a key of its own; admin is the
// lab's key (allowed everything); denied hears of every refusal.
func New(access Access, admin aws.Credentials, denied func(Denial)) *Authorizer {
	admin.Source = "lab"
	a := &Authorizer{access: access, admin: admin,
		byKey: map[string]*principal{}, denied: denied}
	for k, role := range access.Roles {
		regionName, fn, _ := strings.Cut(k, "/")
		p := &principal{region: regionName, function: fn, role: role, key: "LABROLE" + strings.ToUpper(randHex(6)), secret: randHex(20)}
		a.byKey[p.key] = p
	}
	return a
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Sessions is how many function sessions (region, function) hold a key.
func (a *Authorizer) Sessions() int { return len(a.byKey) }

// Credentials returns the key a function runs with; ok is false when the
// templates give it no role.
func (a *Authorizer) Credentials(regionName, fn string) (aws.Credentials, bool) {
	for _, p := range a.byKey {
		if p.region == regionName && p.function == fn {
			return aws.Credentials{AccessKeyID: p.key, SecretAccessKey: p.secret}, true
		}
	}
	return aws.Credentials{}, false
}

// verdict is the outcome for one request.
type verdict int

const (
	allowed    verdict = iota
	deniedIAM          // a policy refused it
	unknownKey         // not a key the lab issued, or no signature
)

// decide evaluates reqs for the request's key in regionName; extra are
// resource policies evaluated beside the role's.
func (a *Authorizer) decide(r *http.Request, regionName string, reqs []iampolicy.Request, resourcePolicies func(iampolicy.Request) []iampolicy.Policy) (verdict, Denial) {
	key, ok := iampolicy.AccessKey(r)
	if !ok {
		return unknownKey, Denial{Region: regionName}
	}
	if key == a.admin.AccessKeyID {
		return allowed, Denial{}
	}
	p, ok := a.byKey[key]
	if !ok {
		return unknownKey, Denial{Region: regionName}
	}
	for _, req := range reqs {
		pols := p.role.Policies
		var res []iampolicy.Policy
		if resourcePolicies != nil {
			res = resourcePolicies(req)
		}
		// Same account: the identity's Allow suffices; a Deny anywhere wins.
		d := iampolicy.Evaluate(pols, req)
		if iampolicy.Evaluate(res, req) == iampolicy.ExplicitDeny {
			d = iampolicy.ExplicitDeny
		}
		if d != iampolicy.Allow {
			den := Denial{Region: regionName, Principal: p.arn(a.access.Account), Action: req.Action, Resource: req.Resource}
			if a.denied != nil {
				a.denied(den)
			}
			return deniedIAM, den
		}
	}
	return allowed, Denial{}
}

func (a *Authorizer) where(regionName string) iampolicy.Where {
	return iampolicy.Where{Region: regionName, Account: a.access.Account}
}

// dynamoDB is a DynamoDB front's gate: it writes the refusal and returns
// false, or returns true to forward the request.
func (a *Authorizer) DynamoDB(regionName string, w http.ResponseWriter, r *http.Request, body []byte) bool {
	reqs, err := iampolicy.DynamoDB(a.where(regionName), r.Header.Get("X-Amz-Target"), body)
	if err != nil {
		reqs = nil // unreadable: let DynamoDB Local answer it, but only for the lab's key
	}
	v, d := a.decide(r, regionName, reqs, nil)
	if v == allowed && err != nil {
		if k, _ := iampolicy.AccessKey(r); k != a.admin.AccessKeyID {
			v = deniedIAM
			d = Denial{Region: regionName, Action: "dynamodb:?", Resource: err.Error()}
		}
	}
	switch v {
	case allowed:
		return true
	case unknownKey:
		writeDynamoDBError(w, "com.amazon.coral.service#UnrecognizedClientException", "The security token included in the request is invalid.")
	default:
		writeDynamoDBError(w, "com.amazon.coral.service#AccessDeniedException", d.String())
	}
	return false
}

func writeDynamoDBError(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Requestid", randHex(16))
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

// s3 is an S3 front's gate. An allowed request with a role's key is signed
// again with the lab's key, the only one versitygw knows.
func (a *Authorizer) S3(regionName string, w http.ResponseWriter, r *http.Request) bool {
	reqs := iampolicy.S3(a.where(regionName), r.Method, r.URL, r.Header, a.access.AWSBucket)
	v, d := a.decide(r, regionName, reqs, func(req iampolicy.Request) []iampolicy.Policy {
		bucket, _, _ := strings.Cut(strings.TrimPrefix(req.Resource, "arn:aws:s3:::"), "/")
		return a.access.BucketPolicies[bucket]
	})
	switch v {
	case allowed:
		if key, _ := iampolicy.AccessKey(r); key != a.admin.AccessKeyID {
			if err := a.resign(r, regionName); err != nil {
				writeS3Error(w, r, http.StatusInternalServerError, "InternalError", "the lab could not sign the request again: "+err.Error())
				return false
			}
		}
		return true
	case unknownKey:
		writeS3Error(w, r, http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
	default:
		writeS3Error(w, r, http.StatusForbidden, "AccessDenied", d.String())
	}
	return false
}

// hopHeaders are not forwarded by the front's proxy, so must not be signed.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func (a *Authorizer) resign(r *http.Request, regionName string) error {
	a.signOnce.Do(func() { a.signer = v4.NewSigner() })
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" || strings.HasPrefix(payload, "STREAMING-AWS4-HMAC-SHA256") {
		return fmt.Errorf("payload hash %q cannot be signed again", payload)
	}
	for _, h := range append(hopHeaders, "Authorization", "X-Amz-Security-Token") {
		r.Header.Del(h)
	}
	if r.URL.Host == "" {
		r.URL.Host = r.Host
	}
	if r.URL.Scheme == "" {
		r.URL.Scheme = "http"
	}
	return a.signer.SignHTTP(r.Context(), a.admin, r, payload, "s3", regionName, time.Now())
}

func writeS3Error(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("X-Amz-Request-Id", randHex(8))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	xml.NewEncoder(w).Encode(struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		RequestID string `xml:"RequestId"`
	}{Code: code, Message: msg, RequestID: w.Header().Get("X-Amz-Request-Id")})
}

// functionURL is the front door's gate before a region's orders service:
// a signed request is a call to a function URL with AuthType AWS_IAM.
func (a *Authorizer) FunctionURL(regionName, function string, w http.ResponseWriter, r *http.Request) bool {
	if _, signed := iampolicy.AccessKey(r); !signed {
		return true // the operator's: curl, the drill's clients
	}
	v, _ := a.decide(r, regionName, iampolicy.FunctionURL(a.where(regionName), function), nil)
	if v == allowed {
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", "AccessDeniedException")
	w.WriteHeader(http.StatusForbidden)
	json.NewEncoder(w).Encode(map[string]string{"Message": "Forbidden"})
	return false
}
