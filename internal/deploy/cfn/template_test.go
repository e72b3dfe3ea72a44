package cfn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shippedTemplates parses every template in cloudformation/ (all four).
func shippedTemplates(t *testing.T) []*Template {
	t.Helper()
	files, err := filepath.Glob("../../../cloudformation/*.yaml")
	if err != nil || len(files) != 4 {
		t.Fatalf("templates: %v %v", files, err)
	}
	var out []*Template
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tpl, err := Parse(filepath.Base(f), body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tpl)
	}
	return out
}

func TestShippedTemplatesAreValid(t *testing.T) {
	for _, tpl := range shippedTemplates(t) {
		for _, p := range Check(tpl) {
			t.Errorf("%s", p)
		}
	}
}

// Each broken fixture is caught, and the message names the template, the
// logical ID and the property.
func TestCheckCatchesBrokenTemplates(t *testing.T) {
	cases := map[string]string{
		"unknown-type.yaml":     `unknown-type.yaml: Table: Type: unknown resource type "AWS::DynamoDB::GlobalTabel" (did you mean AWS::DynamoDB::GlobalTable?)`,
		"unknown-property.yaml": `unknown-property.yaml: Bucket: Properties.Versioning: unknown property Versioning`,
		"missing-required.yaml": `missing-required.yaml: Table: Properties: required property Replicas is missing`,
		"wrong-type.yaml":       `wrong-type.yaml: Table: Properties.Replicas[0].PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled: want true or false, got "maybe"`,
		"wrong-shape.yaml":      `wrong-shape.yaml: Bucket: Properties.VersioningConfiguration: want an object, got a list`,
		"bad-ref.yaml":          `bad-ref.yaml: Bucket: Properties.BucketName: Ref "ApName": no parameter or resource of that name`,
		"bad-getatt.yaml":       `bad-getatt.yaml: Sub: Properties.TopicArn: Fn::GetAtt Topik.TopicArn: no resource "Topik"`,
		"bad-sub.yaml":          `bad-sub.yaml: Topic: Properties.TopicName: Fn::Sub ${Stage}: no parameter, resource or variable of that name`,
		"bad-condition.yaml":    `bad-condition.yaml: Topic: Condition: condition "No" is not declared in Conditions`,
		"iam-star.yaml":         `iam-star.yaml: Role: Properties.Policies[0].PolicyDocument.Statement[0].Action: IAM Action "*"`,
		"if-branch.yaml":        `if-branch.yaml: Alarm: Properties.EvaluationPeriods (Fn::If branch 2): want a number, got "three"`,
	}
	for file, want := range cases {
		body, err := os.ReadFile(filepath.Join("testdata", "broken", file))
		if err != nil {
			t.Fatal(err)
		}
		tpl, err := Parse(file, body)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var got []string
		for _, p := range Check(tpl) {
			got = append(got, p.String())
		}
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, want)
		}
		if !found {
			t.Errorf("%s: want a problem starting %q, got %q", file, want, got)
		}
	}
	// bad-condition also has an Fn::If on an undeclared condition.
	body, _ := os.ReadFile("testdata/broken/bad-condition.yaml")
	tpl, _ := Parse("bad-condition.yaml", body)
	if ps := Check(tpl); len(ps) != 2 {
		t.Errorf("bad-condition.yaml: %d problems, want 2: %v", len(ps), ps)
	}
}
