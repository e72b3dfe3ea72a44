package workload

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

var cartKeys = []KeyAttr{{Name: "user", Type: "S"}, {Name: "line", Type: "N"}}

func TestTemplates(t *testing.T) {
	def, err := DefaultTemplate(cartKeys)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := ParseTemplate(def, cartKeys)
	if err != nil {
		t.Fatalf("the default template %s: %v", def, err)
	}
	it, err := tm.Item("drill-42", 42)
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := it["user"].(*types.AttributeValueMemberS); !ok || u.Value != "drill-42" {
		t.Errorf("user = %#v", it["user"])
	}
	if l, ok := it["line"].(*types.AttributeValueMemberN); !ok || l.Value != "42" {
		t.Errorf("line = %#v", it["line"])
	}
	k, err := tm.Key("drill-42")
	if err != nil || len(k) != 2 || canonical(k) != canonical(map[string]types.AttributeValue{"user": it["user"], "line": it["line"]}) {
		t.Fatalf("key of drill-42: %v %v", k, err)
	}
	if _, err := DefaultTemplate([]KeyAttr{{Name: "blob", Type: "B"}}); err == nil || !strings.Contains(err.Error(), "--app-item") {
		t.Errorf("a binary key's default: %v", err)
	}
	for _, tc := range []struct{ raw, want string }{
		{`{"user":{"S":"{{id}}"}}`, "line is missing"},
		{`{"user":{"S":"fixed"},"line":{"N":"1"}}`, "every write would overwrite one item"},
		{`{"user":{"N":"{{n}}"},"line":{"N":"{{n}}"}}`, "of type N in the template, S in the table"},
		{`{"user":{"S":"{{id}}"},"line":{"N":"{{n}}"},"pilotlight_drill_region":{"S":"x"}}`, "drill's own attribute"},
		{`{"user":{"S":"{{id}}"},"line":{"N":"{{id}}"}}`, "item template"},
		{`not json`, "item template"},
	} {
		if _, err := ParseTemplate(tc.raw, cartKeys); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.raw, err, tc.want)
		}
	}
	if _, err := (&Template{}).Key("no-number-here"); err == nil {
		t.Error("an id without its number gave a key")
	}
}

// A template is outside input (--app-item): whatever it is, parsing it
// fails with an error or gives a template whose items carry the key.
func FuzzParseTemplate(f *testing.F) {
	f.Add(`{"user":{"S":"{{id}}"},"line":{"N":"{{n}}"},"sku":{"S":"drill"}}`)
	f.Add(`{"user":{"S":"{{id}}"},"line":{"N":"{{n}}"},"tags":{"SS":["a","b"]},"m":{"M":{"x":{"BOOL":true}}}}`)
	f.Add(`{"user":{"S":"{{id}"},"line":{"N":"{{n}}"}}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, raw string) {
		tm, err := ParseTemplate(raw, cartKeys)
		if err != nil {
			return
		}
		for _, id := range []string{"run-1", "run-2"} {
			k, err := tm.Key(id)
			if err != nil {
				t.Fatalf("template %q parsed but %s has no key: %v", raw, id, err)
			}
			if _, ok := k["user"]; !ok {
				t.Fatalf("template %q: key without user", raw)
			}
		}
		a, _ := tm.Key("run-1")
		b, _ := tm.Key("run-2")
		if canonical(a) == canonical(b) {
			t.Fatalf("template %q: two writes share a key", raw)
		}
	})
}
