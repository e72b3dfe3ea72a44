// Package iampolicy owns the IAM policy language as the lab checks it: it
// parses identity policies (the documents in the templates'
// AWS::IAM::Role resources), evaluates a request
// against them as AWS does — an explicit Deny wins, else an Allow, else the
// request is implicitly denied — and maps the lab's DynamoDB, S3 and
// function-URL calls to the IAM actions and resource ARNs AWS checks,
// quirks included (HeadBucket needs s3:ListBucket; reading one version
// needs s3:GetObjectVersion; a function URL with AuthType AWS_IAM needs
// lambda:InvokeFunctionUrl and lambda:InvokeFunction).
//
// It is small on purpose and says what it leaves out: no resource-based
// policies beyond what the lab passes in, no permission boundaries, SCPs or
// session policies, no policy variables; NotAction and NotResource are
// supported; condition operators are the String, Arn and Bool families
// (with IfExists). A document using anything else fails to parse, so a
// template cannot silently rely on what the lab does not check.
package iampolicy

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Policy is an IAM policy document.
type Policy struct {
	Version   string
	Statement []Statement
}

// Statement is one statement of a policy.
type Statement struct {
	Sid         string
	Effect      string
	Principal   json.RawMessage // resource policies only
	Action      List
	NotAction   List
	Resource    List
	NotResource List
	// Condition: operator -> condition key -> values.
	Condition map[string]map[string]List
}

// List is a policy element that is a string or a list of strings.
type List []string

// UnmarshalJSON accepts "x", ["x", "y"], and booleans (Bool conditions
// are often written unquoted).
func (l *List) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = List{s}
		return nil
	}
	var bv bool
	if err := json.Unmarshal(b, &bv); err == nil {
		*l = List{fmt.Sprint(bv)}
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return errors.New("want a string or a list of strings")
	}
	out := make(List, 0, len(raw))
	for _, r := range raw {
		var one List
		if err := one.UnmarshalJSON(r); err != nil || len(one) != 1 {
			return errors.New("want a string or a list of strings")
		}
		out = append(out, one[0])
	}
	*l = out
	return nil
}

// Parse reads a policy document and checks that the lab can evaluate it.
func Parse(doc []byte) (Policy, error) {
	var raw struct {
		Version   string
		Statement json.RawMessage
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return Policy{}, fmt.Errorf("policy: %w", err)
	}
	p := Policy{Version: raw.Version}
	if len(raw.Statement) == 0 {
		return Policy{}, errors.New("policy: no Statement")
	}
	// One statement may stand alone, not in a list.
	if raw.Statement[0] == '{' {
		var s Statement
		if err := json.Unmarshal(raw.Statement, &s); err != nil {
			return Policy{}, fmt.Errorf("policy: statement: %w", err)
		}
		p.Statement = []Statement{s}
	} else if err := json.Unmarshal(raw.Statement, &p.Statement); err != nil {
		return Policy{}, fmt.Errorf("policy: statements: %w", err)
	}
	for i, s := range p.Statement {
		if err := s.check(); err != nil {
			name := s.Sid
			if name == "" {
				name = fmt.Sprintf("#%d", i+1)
			}
			return Policy{}, fmt.Errorf("policy: statement %s: %w", name, err)
		}
	}
	return p, nil
}

func (s Statement) check() error {
	if s.Effect != "Allow" && s.Effect != "Deny" {
		return fmt.Errorf("Effect %q: want Allow or Deny", s.Effect)
	}
	if (len(s.Action) == 0) == (len(s.NotAction) == 0) {
		return errors.New("want exactly one of Action and NotAction")
	}
	if (len(s.Resource) == 0) == (len(s.NotResource) == 0) {
		return errors.New("want exactly one of Resource and NotResource")
	}
	for op := range s.Condition {
		if _, ok := operator(op); !ok {
			return fmt.Errorf("condition operator %s is not one the lab evaluates (String*, Arn*, Bool, with IfExists)", op)
		}
	}
	return nil
}

// Request is one IAM authorization: an action on a resource, with the
// request's condition keys.
type Request struct {
	Action   string // service:Action
	Resource string // an ARN, or "*"
	Context  map[string]string
}

// Decision is the outcome of an evaluation.
type Decision int

const (
	ImplicitDeny Decision = iota // no statement allows it
	Allow
	ExplicitDeny // a Deny statement matches
)

func (d Decision) String() string {
	return [...]string{"implicit deny", "allow", "explicit deny"}[d]
}

// Evaluate decides req against the policies together: any matching Deny
// denies; else any matching Allow allows; else it is implicitly denied.
func Evaluate(policies []Policy, req Request) Decision {
	out := ImplicitDeny
	for _, p := range policies {
		for _, s := range p.Statement {
			if !s.matches(req) {
				continue
			}
			if s.Effect == "Deny" {
				return ExplicitDeny
			}
			out = Allow
		}
	}
	return out
}

func (s Statement) matches(req Request) bool {
	if len(s.Action) > 0 && !anyMatch(s.Action, req.Action, true) {
		return false
	}
	if len(s.NotAction) > 0 && anyMatch(s.NotAction, req.Action, true) {
		return false
	}
	if len(s.Resource) > 0 && !anyMatch(s.Resource, req.Resource, false) {
		return false
	}
	if len(s.NotResource) > 0 && anyMatch(s.NotResource, req.Resource, false) {
		return false
	}
	for op, keys := range s.Condition {
		for key, values := range keys {
			if !condition(op, req.Context, key, values) {
				return false
			}
		}
	}
	return true
}

func anyMatch(patterns List, s string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			if Match(strings.ToLower(p), strings.ToLower(s)) {
				return true
			}
		} else if Match(p, s) {
			return true
		}
	}
	return false
}

// Match reports whether s matches pattern, where * matches any run of
// characters (none included) and ? any one character, as in IAM's Action,
// Resource and *Like conditions.
func Match(pattern, s string) bool {
	// Iterative glob with one backtrack point: linear in practice.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// condOp is a condition operator: how a request's value compares with a
// policy's, and how a missing key counts.
type condOp struct {
	cmp      func(have, want string) bool
	negated  bool // true when no value matches
	ifExists bool // a missing key passes
}

// operator returns the condition operator named name.
func operator(name string) (condOp, bool) {
	var o condOp
	base, ifExists := strings.CutSuffix(name, "IfExists")
	o.ifExists = ifExists
	switch base {
	case "StringEquals", "ArnEquals":
		o.cmp = func(h, w string) bool { return h == w }
	case "StringNotEquals", "ArnNotEquals":
		o.cmp, o.negated = func(h, w string) bool { return h == w }, true
	case "StringEqualsIgnoreCase":
		o.cmp = strings.EqualFold
	case "StringNotEqualsIgnoreCase":
		o.cmp, o.negated = strings.EqualFold, true
	case "StringLike", "ArnLike":
		o.cmp = func(h, w string) bool { return Match(w, h) }
	case "StringNotLike", "ArnNotLike":
		o.cmp, o.negated = func(h, w string) bool { return Match(w, h) }, true
	case "Bool":
		o.cmp = strings.EqualFold
	default:
		return o, false
	}
	return o, true
}

// condition evaluates one operator and key: true when the request's value
// matches any of the policy's (none of them, for a negated operator). A key
// the request lacks fails a positive operator and passes a negated one;
// with IfExists it passes either way.
func condition(op string, ctx map[string]string, key string, values List) bool {
	o, ok := operator(op)
	if !ok {
		return false // Parse refuses it; a hand-built statement matches nothing
	}
	have, present := lookup(ctx, key)
	if !present {
		return o.ifExists || o.negated
	}
	hit := false
	for _, w := range values {
		if o.cmp(have, w) {
			hit = true
			break
		}
	}
	return hit != o.negated
}

// lookup finds a condition key; their names are case-insensitive.
func lookup(ctx map[string]string, key string) (string, bool) {
	if v, ok := ctx[key]; ok {
		return v, true
	}
	for k, v := range ctx {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

// ForEveryone keeps the statements of a resource policy that apply to any
// caller (Principal "*" or {"AWS": "*"}): the lab's roles are named by no
// resource policy, so only these can apply to them.
func ForEveryone(p Policy) Policy {
	out := Policy{Version: p.Version}
	for _, s := range p.Statement {
		var any string
		var aws struct{ AWS List }
		if json.Unmarshal(s.Principal, &any) == nil && any == "*" ||
			json.Unmarshal(s.Principal, &aws) == nil && len(aws.AWS) == 1 && aws.AWS[0] == "*" {
			out.Statement = append(out.Statement, s)
		}
	}
	return out
}
