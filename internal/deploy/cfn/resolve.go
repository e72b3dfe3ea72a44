package cfn

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Resolver evaluates a template's intrinsic functions for one stack, as
// CloudFormation would when it creates the stack: parameters (given, or
// their defaults), pseudo parameters, conditions, Ref, Fn::Sub, Fn::If,
// Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::Join, Fn::Split, Fn::Select and
// Fn::GetAtt. Resources' own values (a Ref to a resource, an attribute)
// come from Attr: the lab answers them with its stand-ins. A value that
// cannot be resolved is an error naming it, never silently empty.
type Resolver struct {
	T       *Template
	Params  map[string]string
	Region  string
	Account string
	// Attr returns a resource's Ref value (attr "") or attribute.
	Attr func(logicalID, attr string) (string, bool)
}

// Function is a Lambda function as a template defines it.
type Function struct {
	LogicalID string
	Name      string
	Role      string // the logical ID of its role, when the template defines it
	Env       map[string]string
	Timeout   int // seconds
	MemoryMB  int
}

// Functions returns the template's Lambda functions (those whose
// condition holds), sorted by name.
func (r *Resolver) Functions() ([]Function, error) {
	var out []Function
	for id, res := range r.T.Resources {
		if res["Type"] != "AWS::Lambda::Function" {
			continue
		}
		if c, ok := res["Condition"].(string); ok {
			on, err := r.Condition(c)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", r.T.Name, id, err)
			}
			if !on {
				continue
			}
		}
		props, _ := res["Properties"].(map[string]any)
		f := Function{LogicalID: id, Env: map[string]string{}}
		var err error
		if f.Name, err = r.String(props["FunctionName"]); err != nil {
			return nil, fmt.Errorf("%s: %s: FunctionName: %w", r.T.Name, id, err)
		}
		if ga, ok := props["Role"].(map[string]any)["Fn::GetAtt"]; ok {
			switch x := ga.(type) {
			case []any:
				if len(x) == 2 {
					f.Role, _ = x[0].(string)
				}
			case string:
				f.Role, _, _ = strings.Cut(x, ".")
			}
		}
		for prop, dst := range map[string]*int{"Timeout": &f.Timeout, "MemorySize": &f.MemoryMB} {
			if props[prop] == nil {
				continue
			}
			s, err := r.String(props[prop])
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %s: %w", r.T.Name, id, prop, err)
			}
			if *dst, err = strconv.Atoi(s); err != nil {
				return nil, fmt.Errorf("%s: %s: %s: %q is not a whole number", r.T.Name, id, prop, s)
			}
		}
		env, _ := props["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		for k, v := range vars {
			if x, err := r.Value(v); err == nil && x == nil {
				continue // AWS::NoValue: the variable is not set
			}
			s, err := r.String(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: Environment.Variables.%s: %w", r.T.Name, id, k, err)
			}
			f.Env[k] = s
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// String resolves v to a string (numbers and booleans as CloudFormation
// writes them).
func (r *Resolver) String(v any) (string, error) {
	x, err := r.Value(v)
	if err != nil {
		return "", err
	}
	switch x := x.(type) {
	case string:
		return x, nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case nil:
		return "", fmt.Errorf("no value")
	}
	return "", fmt.Errorf("%v is not a string", x)
}

// Value resolves every intrinsic function in v.
func (r *Resolver) Value(v any) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			y, err := r.Value(e)
			if err != nil {
				return nil, err
			}
			out = append(out, y)
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for fn, arg := range x {
				if fn == "Ref" || fn == "Condition" || strings.HasPrefix(fn, "Fn::") {
					return r.intrinsic(fn, arg)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			y, err := r.Value(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = y
		}
		return out, nil
	}
	return v, nil
}

func (r *Resolver) intrinsic(fn string, arg any) (any, error) {
	list, _ := arg.([]any)
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		return r.ref(name)
	case "Condition":
		name, _ := arg.(string)
		return r.Condition(name)
	case "Fn::Sub":
		return r.sub(arg)
	case "Fn::If":
		if len(list) != 3 {
			return nil, fmt.Errorf("Fn::If needs [condition, then, else]")
		}
		name, _ := list[0].(string)
		on, err := r.Condition(name)
		if err != nil {
			return nil, err
		}
		if on {
			return r.Value(list[1])
		}
		return r.Value(list[2])
	case "Fn::Equals":
		if len(list) != 2 {
			return nil, fmt.Errorf("Fn::Equals needs two values")
		}
		a, err := r.String(list[0])
		if err != nil {
			return nil, err
		}
		b, err := r.String(list[1])
		if err != nil {
			return nil, err
		}
		return a == b, nil
	case "Fn::Not", "Fn::And", "Fn::Or":
		return r.logic(fn, list)
	case "Fn::Join":
		return r.join(list)
	case "Fn::Select":
		return r.selectOne(list)
	case "Fn::Split":
		return r.split(list)
	case "Fn::GetAtt":
		var id, attr string
		switch a := arg.(type) {
		case []any:
			if len(a) == 2 {
				id, _ = a[0].(string)
				attr, _ = a[1].(string)
			}
		case string:
			id, attr, _ = strings.Cut(a, ".")
		}
		return r.attr(id, attr)
	}
	return nil, fmt.Errorf("%s is not supported here", fn)
}

// logic is Fn::Not, Fn::And and Fn::Or over conditions.
func (r *Resolver) logic(fn string, list []any) (any, error) {
	var bs []bool
	for _, e := range list {
		y, err := r.Value(e)
		if err != nil {
			return nil, err
		}
		b, ok := y.(bool)
		if !ok {
			return nil, fmt.Errorf("%s of %v: not a condition", fn, y)
		}
		bs = append(bs, b)
	}
	switch {
	case fn == "Fn::Not" && len(bs) == 1:
		return !bs[0], nil
	case fn == "Fn::And":
		for _, b := range bs {
			if !b {
				return false, nil
			}
		}
		return len(bs) > 0, nil
	case fn == "Fn::Or":
		for _, b := range bs {
			if b {
				return true, nil
			}
		}
		return false, nil
	}
	return nil, fmt.Errorf("Fn::Not needs one condition")
}

// join is Fn::Join: [delimiter, values].
func (r *Resolver) join(list []any) (any, error) {
	if len(list) != 2 {
		return nil, fmt.Errorf("Fn::Join needs [delimiter, values]")
	}
	sep, _ := list[0].(string)
	items, err := r.Value(list[1])
	if err != nil {
		return nil, err
	}
	parts, _ := items.([]any)
	var ss []string
	for _, p := range parts {
		s, err := r.String(p)
		if err != nil {
			return nil, err
		}
		ss = append(ss, s)
	}
	return strings.Join(ss, sep), nil
}

// selectOne is Fn::Select: [index, values].
func (r *Resolver) selectOne(list []any) (any, error) {
	if len(list) != 2 {
		return nil, fmt.Errorf("Fn::Select needs [index, values]")
	}
	is, err := r.String(list[0])
	if err != nil {
		return nil, err
	}
	i, err := strconv.Atoi(is)
	items, err2 := r.Value(list[1])
	parts, _ := items.([]any)
	if err != nil || err2 != nil || i < 0 || i >= len(parts) {
		return nil, fmt.Errorf("Fn::Select: index %s out of range", is)
	}
	return parts[i], nil
}

// split is Fn::Split: [delimiter, string].
func (r *Resolver) split(list []any) (any, error) {
	if len(list) != 2 {
		return nil, fmt.Errorf("Fn::Split needs [delimiter, string]")
	}
	sep, err := r.String(list[0])
	if err != nil {
		return nil, err
	}
	str, err := r.String(list[1])
	if err != nil {
		return nil, err
	}
	var out []any
	for _, p := range strings.Split(str, sep) {
		out = append(out, p)
	}
	return out, nil
}

func (r *Resolver) ref(name string) (any, error) {
	switch name {
	case "AWS::Region":
		return r.Region, nil
	case "AWS::AccountId":
		return r.Account, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::NoValue":
		return nil, nil
	}
	if p, ok := r.T.Parameters[name]; ok {
		if v, ok := r.Params[name]; ok {
			return v, nil
		}
		if d, ok := p["Default"]; ok {
			return d, nil
		}
		return nil, fmt.Errorf("parameter %s has no value and no default", name)
	}
	if _, ok := r.T.Resources[name]; ok {
		return r.attr(name, "")
	}
	return nil, fmt.Errorf("Ref %s: no such parameter or resource", name)
}

func (r *Resolver) attr(id, attr string) (any, error) {
	if r.Attr != nil {
		if v, ok := r.Attr(id, attr); ok {
			return v, nil
		}
	}
	if v, ok := r.named(id, attr); ok {
		return v, nil
	}
	if attr == "" {
		return nil, fmt.Errorf("Ref %s: no value was given for this resource", id)
	}
	return nil, fmt.Errorf("Fn::GetAtt %s.%s: no value was given for this attribute", id, attr)
}

var subRef = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

func (r *Resolver) sub(arg any) (any, error) {
	src, vars := "", map[string]any{}
	switch a := arg.(type) {
	case string:
		src = a
	case []any:
		if len(a) != 2 {
			return nil, fmt.Errorf("Fn::Sub needs a string or [string, variables]")
		}
		src, _ = a[0].(string)
		m, _ := a[1].(map[string]any)
		for k, v := range m {
			vars[k] = v
		}
	}
	var firstErr error
	out := subRef.ReplaceAllStringFunc(src, func(m string) string {
		name := m[2 : len(m)-1]
		var v any
		var err error
		if x, ok := vars[name]; ok {
			v, err = r.Value(x)
		} else if id, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			v, err = r.attr(id, attr)
		} else {
			v, err = r.ref(name)
		}
		if err == nil {
			var s string
			if s, err = r.String(v); err == nil {
				return s
			}
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("Fn::Sub ${%s}: %w", name, err)
		}
		return ""
	})
	if firstErr != nil {
		return nil, firstErr
	}
	return strings.ReplaceAll(out, "${!", "${"), nil
}

// Condition evaluates a named condition.
func (r *Resolver) Condition(name string) (bool, error) {
	c, ok := r.T.Conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	v, err := r.Value(c)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %s is not true or false", name)
	}
	return b, nil
}

// named is the Ref value or Arn of a resource whose name the template
// sets, as AWS forms it: a table, bucket, log group, topic, role, function
// or rule. ok is false for anything else.
func (r *Resolver) named(id, attr string) (any, bool) {
	res := r.T.Resources[id]
	props, _ := res["Properties"].(map[string]any)
	typ, _ := res["Type"].(string)
	prop := map[string]string{
		"AWS::DynamoDB::Table": "TableName", "AWS::DynamoDB::GlobalTable": "TableName", "AWS::S3::Bucket": "BucketName",
		"AWS::Logs::LogGroup": "LogGroupName", "AWS::SNS::Topic": "TopicName", "AWS::IAM::Role": "RoleName",
		"AWS::Lambda::Function": "FunctionName", "AWS::Events::Rule": "Name", "AWS::CloudWatch::Alarm": "AlarmName",
	}[typ]
	if prop == "" || props[prop] == nil {
		return nil, false
	}
	name, err := r.String(props[prop])
	if err != nil {
		return nil, false
	}
	at := r.Region + ":" + r.Account + ":"
	arn := map[string]string{
		"AWS::DynamoDB::Table": "arn:aws:dynamodb:" + at + "table/" + name, "AWS::DynamoDB::GlobalTable": "arn:aws:dynamodb:" + at + "table/" + name,
		"AWS::S3::Bucket": "arn:aws:s3:::" + name, "AWS::Logs::LogGroup": "arn:aws:logs:" + at + "log-group:" + name + ":*",
		"AWS::SNS::Topic": "arn:aws:sns:" + at + name, "AWS::IAM::Role": "arn:aws:iam::" + r.Account + ":role/" + name,
		"AWS::Lambda::Function": "arn:aws:lambda:" + at + "function:" + name, "AWS::Events::Rule": "arn:aws:events:" + at + "rule/" + name,
		"AWS::CloudWatch::Alarm": "arn:aws:cloudwatch:" + at + "alarm:" + name,
	}[typ]
	switch {
	case attr == "Arn":
		return arn, true
	case attr == "" && typ == "AWS::SNS::Topic":
		return arn, true // a topic's Ref is its ARN
	case attr == "":
		return name, true
	}
	return nil, false
}

// Role is an IAM role as a template defines it.
type Role struct {
	LogicalID string
	Name      string
	Policies  [][]byte // its inline policy documents, resolved, as JSON
}

// Role resolves the role with the given logical ID.
func (r *Resolver) Role(id string) (Role, error) {
	res, ok := r.T.Resources[id]
	if !ok || res["Type"] != "AWS::IAM::Role" {
		return Role{}, fmt.Errorf("%s: no role %s", r.T.Name, id)
	}
	props, _ := res["Properties"].(map[string]any)
	role := Role{LogicalID: id}
	var err error
	if role.Name, err = r.String(props["RoleName"]); err != nil {
		return Role{}, fmt.Errorf("%s: %s: RoleName: %w", r.T.Name, id, err)
	}
	if props["ManagedPolicyArns"] != nil {
		return Role{}, fmt.Errorf("%s: %s: managed policies are not resolved here: write the statements inline", r.T.Name, id)
	}
	pols, _ := props["Policies"].([]any)
	for i, p := range pols {
		pm, _ := p.(map[string]any)
		doc, err := r.Value(pm["PolicyDocument"])
		if err != nil {
			return Role{}, fmt.Errorf("%s: %s: Policies[%d]: %w", r.T.Name, id, i, err)
		}
		b, err := json.Marshal(dropNulls(doc))
		if err != nil {
			return Role{}, err
		}
		role.Policies = append(role.Policies, b)
	}
	return role, nil
}

// BucketPolicies returns each bucket's policy document (by bucket name),
// resolved, as JSON.
func (r *Resolver) BucketPolicies() (map[string][]byte, error) {
	out := map[string][]byte{}
	for id, res := range r.T.Resources {
		if res["Type"] != "AWS::S3::BucketPolicy" {
			continue
		}
		props, _ := res["Properties"].(map[string]any)
		bucket, err := r.String(props["Bucket"])
		if err != nil {
			return nil, fmt.Errorf("%s: %s: Bucket: %w", r.T.Name, id, err)
		}
		doc, err := r.Value(props["PolicyDocument"])
		if err != nil {
			return nil, fmt.Errorf("%s: %s: PolicyDocument: %w", r.T.Name, id, err)
		}
		if out[bucket], err = json.Marshal(dropNulls(doc)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// dropNulls removes list entries that resolved to AWS::NoValue.
func dropNulls(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if e != nil {
				out = append(out, dropNulls(e))
			}
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if e != nil {
				out[k] = dropNulls(e)
			}
		}
		return out
	}
	return v
}

// Table is a DynamoDB table as a template defines it, in one region.
type Table struct {
	LogicalID  string
	Name       string
	Region     string       // where this copy lives (a global table has one per replica)
	Keys       []KeyElement // hash first
	StreamView string       // "" when the table has no stream
	TTL        string       // the TTL attribute, "" when off
}

// KeyElement is one key attribute of a table.
type KeyElement struct {
	Name, Type, KeyType string // e.g. pk, S, HASH
}

// Tables returns the template's tables (those whose condition holds): a
// regional table in the stack's region, a global table once per replica.
func (r *Resolver) Tables() ([]Table, error) {
	var out []Table
	for _, id := range r.sortedOfType("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable") {
		res := r.T.Resources[id]
		props, _ := res["Properties"].(map[string]any)
		v, err := r.Value(props)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", r.T.Name, id, err)
		}
		p, _ := v.(map[string]any)
		t := Table{LogicalID: id, Region: r.Region}
		t.Name, _ = p["TableName"].(string)
		if t.Name == "" {
			return nil, fmt.Errorf("%s: %s: no TableName", r.T.Name, id)
		}
		types := map[string]string{}
		defs, _ := p["AttributeDefinitions"].([]any)
		for _, d := range defs {
			dm, _ := d.(map[string]any)
			n, _ := dm["AttributeName"].(string)
			types[n], _ = dm["AttributeType"].(string)
		}
		ks, _ := p["KeySchema"].([]any)
		for _, k := range ks {
			km, _ := k.(map[string]any)
			e := KeyElement{}
			e.Name, _ = km["AttributeName"].(string)
			e.KeyType, _ = km["KeyType"].(string)
			e.Type = types[e.Name]
			if e.Type == "" {
				return nil, fmt.Errorf("%s: %s: key %s has no AttributeDefinitions entry", r.T.Name, id, e.Name)
			}
			if e.KeyType == "HASH" {
				t.Keys = append([]KeyElement{e}, t.Keys...)
			} else {
				t.Keys = append(t.Keys, e)
			}
		}
		if ss, ok := p["StreamSpecification"].(map[string]any); ok {
			t.StreamView, _ = ss["StreamViewType"].(string)
		}
		if ttl, ok := p["TimeToLiveSpecification"].(map[string]any); ok && ttl["Enabled"] == true {
			t.TTL, _ = ttl["AttributeName"].(string)
		}
		if res["Type"] == "AWS::DynamoDB::Table" {
			out = append(out, t)
			continue
		}
		reps, _ := p["Replicas"].([]any)
		for _, rep := range reps {
			rm, _ := rep.(map[string]any)
			c := t
			c.Region, _ = rm["Region"].(string)
			out = append(out, c)
		}
	}
	return out, nil
}

// Bucket is an S3 bucket as a template defines it.
type Bucket struct {
	LogicalID string
	Name      string
	Versioned bool
}

// Buckets returns the template's buckets (those whose condition holds).
func (r *Resolver) Buckets() ([]Bucket, error) {
	var out []Bucket
	for _, id := range r.sortedOfType("AWS::S3::Bucket") {
		props, _ := r.T.Resources[id]["Properties"].(map[string]any)
		name, err := r.String(props["BucketName"])
		if err != nil {
			return nil, fmt.Errorf("%s: %s: BucketName: %w", r.T.Name, id, err)
		}
		b := Bucket{LogicalID: id, Name: name}
		if vc, ok := props["VersioningConfiguration"].(map[string]any); ok {
			st, err := r.String(vc["Status"])
			if err != nil {
				return nil, fmt.Errorf("%s: %s: VersioningConfiguration: %w", r.T.Name, id, err)
			}
			b.Versioned = st == "Enabled"
		}
		out = append(out, b)
	}
	return out, nil
}

// sortedOfType lists the logical IDs of the resources of the given types
// whose condition holds, sorted.
func (r *Resolver) sortedOfType(types ...string) []string {
	var ids []string
	for id, res := range r.T.Resources {
		typ, _ := res["Type"].(string)
		if !slices.Contains(types, typ) {
			continue
		}
		if c, ok := res["Condition"].(string); ok {
			if on, err := r.Condition(c); err != nil || !on {
				continue
			}
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
