package cfn

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/awslabs/goformation/v7/schema"

	"github.com/pilotlight/pilotlight/internal/config"
)

// Problem is one thing wrong with a template, located by template, logical
// ID and property path.
type Problem struct {
	Template  string
	LogicalID string
	Path      string // property path, e.g. Properties.Replicas[1].Region
	Message   string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Template)
	if p.LogicalID != "" {
		b.WriteString(": " + p.LogicalID)
	}
	if p.Path != "" {
		b.WriteString(": " + p.Path)
	}
	b.WriteString(": " + p.Message)
	return b.String()
}

// Template is a parsed CloudFormation template in long form (short-form
// intrinsics such as !Sub turned into {"Fn::Sub": ...}).
type Template struct {
	Name       string
	Parameters map[string]map[string]any
	Conditions map[string]any
	Resources  map[string]map[string]any
	Outputs    map[string]any
}

// Parse reads a YAML or JSON template.
func Parse(name string, body []byte) (*Template, error) {
	js, err := intrinsics.ProcessYAML(body, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var raw struct {
		Parameters map[string]map[string]any `json:"Parameters"`
		Conditions map[string]any            `json:"Conditions"`
		Resources  map[string]map[string]any `json:"Resources"`
		Outputs    map[string]any            `json:"Outputs"`
	}
	if err := json.Unmarshal(js, &raw); err != nil {
		return nil, fmt.Errorf("%s: not a CloudFormation template: %w", name, err)
	}
	if len(raw.Resources) == 0 {
		return nil, fmt.Errorf("%s: no Resources", name)
	}
	return &Template{Name: name, Parameters: raw.Parameters, Conditions: raw.Conditions, Resources: raw.Resources, Outputs: raw.Outputs}, nil
}

var (
	schemaOnce sync.Once
	schemaDefs map[string]any
	schemaErr  error
)

// definitions returns the resource specification bundled with goformation:
// a JSON schema with one definition per resource and property type.
func definitions() (map[string]any, error) {
	schemaOnce.Do(func() {
		var s struct {
			Definitions map[string]any `json:"definitions"`
		}
		schemaErr = json.Unmarshal([]byte(schema.CloudformationSchema), &s)
		schemaDefs = s.Definitions
	})
	return schemaDefs, schemaErr
}

// newerThanSchema are properties CloudFormation has that goformation's
// bundled schema does not know yet; cfn-lint checks them.
var newerThanSchema = map[string][]string{
	// Function URLs created since October 2025 need a second permission.
	"AWS::Lambda::Permission": {"InvokedViaFunctionUrl"},
}

// pseudoParameters can be referenced without being declared.
var pseudoParameters = map[string]bool{
	"AWS::AccountId": true, "AWS::Region": true, "AWS::Partition": true, "AWS::StackName": true, "AWS::StackId": true,
	"AWS::NoValue": true, "AWS::URLSuffix": true, "AWS::NotificationARNs": true,
}

// Check validates a template offline, in `go test` and without Python.
// cfn-lint (scripts/cfn-lint.sh, in `make lint` and TestTemplatesPassCfnLint)
// is the authority on resource types, properties and CloudFormation's own
// rules; this checker stays for what cfn-lint does not check — no IAM
// statement may allow or deny Action "*" — and so that a machine without
// cfn-lint still catches a misspelled property or a dangling Ref.
//
// It checks: every resource type exists, no
// property is unknown, every required property is there, values have the
// right types (an intrinsic function is accepted wherever a value may be,
// and both branches of Fn::If are checked), every Ref, Fn::GetAtt, Fn::Sub
// variable, condition and DependsOn resolves, and no IAM policy statement
// allows or denies Action "*".
func Check(t *Template) []Problem {
	defs, err := definitions()
	if err != nil {
		return []Problem{{Template: t.Name, Message: "load the resource specification: " + err.Error()}}
	}
	c := &checker{t: t, defs: defs}
	ids := make([]string, 0, len(t.Resources))
	for id := range t.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		c.resource(id, t.Resources[id])
	}
	for name, p := range t.Parameters {
		c.refs("Parameters."+name, "", p["Default"])
	}
	for name, cond := range t.Conditions {
		c.refs("", "Conditions."+name, cond)
	}
	for name, o := range t.Outputs {
		c.refs("", "Outputs."+name, o)
	}
	sort.SliceStable(c.problems, func(i, j int) bool { return c.problems[i].LogicalID < c.problems[j].LogicalID })
	return c.problems
}

type checker struct {
	t        *Template
	defs     map[string]any
	problems []Problem
}

func (c *checker) add(id, path, format string, args ...any) {
	c.problems = append(c.problems, Problem{Template: c.t.Name, LogicalID: id, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) resource(id string, r map[string]any) {
	typ, _ := r["Type"].(string)
	if typ == "" {
		c.add(id, "Type", "no resource type")
		return
	}
	if strings.HasPrefix(typ, "Custom::") || typ == "AWS::CloudFormation::CustomResource" {
		c.refs(id, "Properties", r["Properties"])
		return
	}
	def, ok := c.defs[typ].(map[string]any)
	if !ok {
		c.add(id, "Type", "unknown resource type %q%s", typ, c.suggestType(typ))
		return
	}
	for k := range r {
		switch k {
		case "Type", "Properties", "DependsOn", "Condition", "DeletionPolicy", "UpdateReplacePolicy", "Metadata", "CreationPolicy", "UpdatePolicy":
		default:
			c.add(id, k, "unknown resource attribute %q", k)
		}
	}
	if cond, ok := r["Condition"].(string); ok {
		if _, ok := c.t.Conditions[cond]; !ok {
			c.add(id, "Condition", "condition %q is not declared in Conditions", cond)
		}
	}
	switch d := r["DependsOn"].(type) {
	case string:
		c.dependsOn(id, d)
	case []any:
		for _, x := range d {
			if s, ok := x.(string); ok {
				c.dependsOn(id, s)
			}
		}
	}
	props, _ := def["properties"].(map[string]any)
	pschema, _ := props["Properties"].(map[string]any)
	val, has := r["Properties"]
	if !has {
		val = map[string]any{}
	}
	if pschema != nil {
		if newer := newerThanSchema[typ]; len(newer) > 0 {
			if m, ok := val.(map[string]any); ok {
				rest := make(map[string]any, len(m))
				for k, v := range m {
					if !slices.Contains(newer, k) {
						rest[k] = v
					}
				}
				val = rest
			}
		}
		c.value(id, "Properties", val, pschema)
	}
	// Required properties are listed at the resource level too
	// ("required": ["Properties"]) when some property is required.
	c.refs(id, "Properties", val)
	c.iam(id, "Properties", val)
}

func (c *checker) dependsOn(id, target string) {
	if _, ok := c.t.Resources[target]; !ok {
		c.add(id, "DependsOn", "depends on %q, which is not a resource in this template", target)
	}
}

func (c *checker) suggestType(typ string) string {
	best, bestD := "", 4
	for k := range c.defs {
		if strings.Contains(k, ".") {
			continue
		}
		if d := config.EditDistance(strings.ToLower(k), strings.ToLower(typ)); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
	return ""
}

// intrinsic reports whether v is an intrinsic function call, and which.
func intrinsic(v any) (string, any, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, false
	}
	for k, arg := range m {
		if k == "Ref" || strings.HasPrefix(k, "Fn::") || k == "Condition" {
			return k, arg, true
		}
	}
	return "", nil, false
}

func (c *checker) resolve(s map[string]any) map[string]any {
	for i := 0; i < 8; i++ {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		d, _ := c.defs[strings.TrimPrefix(ref, "#/definitions/")].(map[string]any)
		if d == nil {
			return map[string]any{}
		}
		s = d
	}
	return s
}

// value checks v against a schema node, reporting what does not fit.
func (c *checker) value(id, path string, v any, s map[string]any) {
	s = c.resolve(s)
	if fn, arg, ok := intrinsic(v); ok {
		if fn == "Fn::If" {
			c.ifBranches(id, path, arg, s)
		}
		return
	}
	for _, key := range []string{"anyOf", "oneOf"} {
		if alts, ok := s[key].([]any); ok {
			for _, a := range alts {
				sub := &checker{t: c.t, defs: c.defs}
				if am, ok := a.(map[string]any); ok {
					sub.value(id, path, v, am)
				}
				if len(sub.problems) == 0 {
					return
				}
			}
			c.add(id, path, "value %s fits none of the allowed forms", brief(v))
			return
		}
	}
	typ, _ := s["type"].(string)
	switch typ {
	case "object", "":
		if typ == "" && s["properties"] == nil {
			return // anything
		}
		c.object(id, path, v, s)
	case "array":
		a, ok := v.([]any)
		if !ok {
			c.add(id, path, "want a list, got %s", brief(v))
			return
		}
		if is, ok := s["items"].(map[string]any); ok {
			for i, e := range a {
				c.value(id, fmt.Sprintf("%s[%d]", path, i), e, is)
			}
		}
	default:
		c.scalar(id, path, typ, v, s)
	}
}

// ifBranches checks both values of an Fn::If (AWS::NoValue fits anything).
func (c *checker) ifBranches(id, path string, arg any, s map[string]any) {
	a, ok := arg.([]any)
	if !ok || len(a) != 3 {
		c.add(id, path, "Fn::If takes [condition, value if true, value if false]")
		return
	}
	for i, branch := range a[1:] {
		if f, _, isFn := intrinsic(branch); isFn && f == "Ref" && branch.(map[string]any)["Ref"] == "AWS::NoValue" {
			continue
		}
		c.value(id, fmt.Sprintf("%s (Fn::If branch %d)", path, i+1), branch, s)
	}
}

// object checks an object's required and known properties.
func (c *checker) object(id, path string, v any, s map[string]any) {
	m, ok := v.(map[string]any)
	if !ok {
		c.add(id, path, "want an object, got %s", brief(v))
		return
	}
	props, _ := s["properties"].(map[string]any)
	if props != nil {
		for _, r := range asStrings(s["required"]) {
			if _, ok := m[r]; !ok {
				c.add(id, path, "required property %s is missing", r)
			}
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sub := path + "." + k
		if ps, ok := props[k].(map[string]any); ok {
			c.value(id, sub, m[k], ps)
			continue
		}
		if pp, ok := s["patternProperties"].(map[string]any); ok {
			matched := false
			for pat, ps := range pp {
				if re, err := regexp.Compile(pat); err == nil && re.MatchString(k) {
					matched = true
					if psm, ok := ps.(map[string]any); ok {
						c.value(id, sub, m[k], psm)
					}
				}
			}
			if matched {
				continue
			}
		}
		if ap, ok := s["additionalProperties"].(map[string]any); ok {
			c.value(id, sub, m[k], ap)
			continue
		}
		if ap, ok := s["additionalProperties"].(bool); ok && !ap && props != nil {
			c.add(id, sub, "unknown property %s%s", k, suggest(k, props))
		}
	}
}

// scalar checks a string, number or boolean (CloudFormation turns scalars
// into strings, and takes numbers and booleans written as strings).
func (c *checker) scalar(id, path, typ string, v any, s map[string]any) {
	switch typ {
	case "string":
		switch v.(type) {
		case string, float64, bool:
		default:
			c.add(id, path, "want a string, got %s", brief(v))
		}
		if enum := asStrings(s["enum"]); len(enum) > 0 {
			if str, ok := v.(string); ok && !slices.Contains(enum, str) {
				c.add(id, path, "%q is not one of %s", str, strings.Join(enum, ", "))
			}
		}
	case "number", "integer":
		switch x := v.(type) {
		case float64:
		case string:
			if _, err := strconv.ParseFloat(x, 64); err != nil {
				c.add(id, path, "want a number, got %q", x)
			}
		default:
			c.add(id, path, "want a number, got %s", brief(v))
		}
	case "boolean":
		switch x := v.(type) {
		case bool:
		case string:
			if x != "true" && x != "false" {
				c.add(id, path, "want true or false, got %q", x)
			}
		default:
			c.add(id, path, "want true or false, got %s", brief(v))
		}
	}
}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// refs checks every reference inside v.
func (c *checker) refs(id, path string, v any) {
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			c.refs(id, fmt.Sprintf("%s[%d]", path, i), e)
		}
		return
	case map[string]any:
		if fn, arg, ok := intrinsic(x); ok {
			c.intrinsicRefs(id, path, fn, arg)
			return
		}
		for k, e := range x {
			c.refs(id, path+"."+k, e)
		}
	}
}

func (c *checker) known(name string) bool {
	if pseudoParameters[name] {
		return true
	}
	if _, ok := c.t.Parameters[name]; ok {
		return true
	}
	_, ok := c.t.Resources[name]
	return ok
}

func (c *checker) intrinsicRefs(id, path, fn string, arg any) {
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		if !c.known(name) {
			c.add(id, path, "Ref %q: no parameter or resource of that name", name)
		}
	case "Fn::GetAtt":
		var res string
		switch a := arg.(type) {
		case string:
			res, _, _ = strings.Cut(a, ".")
		case []any:
			if len(a) == 2 {
				res, _ = a[0].(string)
				c.refs(id, path, a[1])
			}
		}
		if _, ok := c.t.Resources[res]; !ok {
			c.add(id, path, "Fn::GetAtt %v: no resource %q", arg, res)
		}
	case "Fn::Sub":
		var str string
		vars := map[string]bool{}
		switch a := arg.(type) {
		case string:
			str = a
		case []any:
			if len(a) == 2 {
				str, _ = a[0].(string)
				if m, ok := a[1].(map[string]any); ok {
					for k, e := range m {
						vars[k] = true
						c.refs(id, path+".Fn::Sub."+k, e)
					}
				}
			}
		}
		for _, m := range subVar.FindAllStringSubmatch(str, -1) {
			name := m[1]
			if vars[name] || c.known(name) {
				continue
			}
			if res, _, ok := strings.Cut(name, "."); ok {
				if _, ok := c.t.Resources[res]; ok {
					continue
				}
			}
			c.add(id, path, "Fn::Sub ${%s}: no parameter, resource or variable of that name", name)
		}
	case "Fn::If":
		if a, ok := arg.([]any); ok && len(a) == 3 {
			if cond, ok := a[0].(string); ok {
				if _, ok := c.t.Conditions[cond]; !ok {
					c.add(id, path, "Fn::If: condition %q is not declared in Conditions", cond)
				}
			}
			c.refs(id, path, a[1])
			c.refs(id, path, a[2])
		}
	case "Condition":
		if cond, ok := arg.(string); ok {
			if _, ok := c.t.Conditions[cond]; !ok {
				c.add(id, path, "condition %q is not declared in Conditions", cond)
			}
		}
	default:
		c.refs(id, path, arg)
	}
}

// iam reports policy statements whose Action is "*".
func (c *checker) iam(id, path string, v any) {
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			c.iam(id, fmt.Sprintf("%s[%d]", path, i), e)
		}
	case map[string]any:
		if st, ok := x["Statement"]; ok {
			stmts, _ := st.([]any)
			if m, ok := st.(map[string]any); ok {
				stmts = []any{m}
			}
			for i, s := range stmts {
				sm, _ := s.(map[string]any)
				for _, a := range actions(sm["Action"]) {
					if a == "*" {
						c.add(id, fmt.Sprintf("%s.Statement[%d].Action", path, i), `IAM Action "*": name the actions the statement needs`)
					}
				}
			}
		}
		for k, e := range x {
			if k != "Statement" {
				c.iam(id, path+"."+k, e)
			}
		}
	}
}

func actions(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		return asStrings(x)
	}
	return nil
}

func asStrings(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, e := range a {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func brief(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		b = append(b[:57], "..."...)
	}
	switch v.(type) {
	case map[string]any:
		return "an object " + string(b)
	case []any:
		return "a list " + string(b)
	case string:
		return "a string " + string(b)
	case float64:
		return "a number " + string(b)
	case bool:
		return "a boolean " + string(b)
	}
	return string(b)
}

func suggest(k string, props map[string]any) string {
	best, bestD := "", 3
	for p := range props {
		if d := config.EditDistance(strings.ToLower(p), strings.ToLower(k)); d < bestD {
			best, bestD = p, d
		}
	}
	if best != "" {
		return " (did you mean " + best + "?)"
	}
	return ""
}
