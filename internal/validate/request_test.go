package validate

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/internal/validate/digest"
)

func TestParseRequest(t *testing.T) {
	for _, in := range []string{``, `{}`, `null`, `{"version":"0","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`} {
		r, err := ParseRequest([]byte(in))
		if err != nil {
			t.Errorf("%q: %v", in, err)
		}
		if _, ranged := r.Range(); ranged {
			t.Errorf("%q: ranged", in)
		}
	}
	r, err := ParseRequest([]byte(`{"segments":16,"segment_range":"4-7","settle":"2s"}`))
	if err != nil {
		t.Fatal(err)
	}
	if seg, ok := r.Range(); !ok || seg != (Segments{16, 4, 7}) || r.SettleWindow().Seconds() != 2 {
		t.Fatalf("parsed %+v", r)
	}
	if r, err := ParseRequest([]byte(`{"settle":"0s","no_objects":true}`)); err != nil || r.SettleWindow() >= 0 || !r.NoObjects {
		t.Fatalf("settle 0s must mean no window: %+v %v", r, err)
	}
	bad := map[string]string{
		`{"segment":4}`:                        "unknown field",
		`{"segment_range":"0-1"}`:              "needs segments",
		`{"segments":4,"segment_range":"3-9"}`: "not within",
		`{"settle":"soon"}`:                    "write it like 5s",
		`{"detail-type":"EC2 Instance State-change Notification"}`: "only scheduled events",
		`[1]`:                         "not a JSON object",
		`{"partials":[{"table":""}]}`: "incomplete",
	}
	for in, want := range bad {
		if _, err := ParseRequest([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

func TestMergePartialsCoverage(t *testing.T) {
	mk := func(first, last int) *Partial {
		return &Partial{Table: "t", Keys: []string{"pk"}, Buckets: 2, Segments: Segments{4, first, last},
			Digests: map[string]digest.Digests{"a": make(digest.Digests, 2), "b": make(digest.Digests, 2)}}
	}
	if _, err := MergePartials([]*Partial{mk(0, 1), mk(2, 3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := MergePartials([]*Partial{mk(0, 1), mk(1, 3)}); err == nil || !strings.Contains(err.Error(), "in two partials") {
		t.Fatalf("overlap: %v", err)
	}
	if _, err := MergePartials([]*Partial{mk(0, 1)}); err == nil || !strings.Contains(err.Error(), "in no partial") {
		t.Fatalf("gap: %v", err)
	}
	// A partial round-trips through JSON, as it does between invocations.
	p := mk(0, 3)
	p.Digests["a"][1].AddItem(digest.Hash{1, 2, 3})
	b, _ := json.Marshal(p)
	var back Partial
	if err := json.Unmarshal(b, &back); err != nil || back.Digests["a"][1] != p.Digests["a"][1] {
		t.Fatalf("json round trip: %v %s", err, b)
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{`{}`, `{"segments":8,"segment_range":"0-3"}`, `{"partials":[{"table":"t","keys":["pk"],"buckets":1,"segments":{"total":1,"first":0,"last":0},"digests":{"a":"0:0000000000000000000000000000000000000000000000000000000000000000"}}]}`, `{"detail-type":"Scheduled Event"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			return
		}
		if seg, ok := r.Range(); ok && seg.Check() != nil {
			t.Fatalf("accepted a bad range %+v", seg)
		}
		for _, p := range r.Partials {
			for _, d := range p.Digests {
				if len(d) != p.Buckets {
					t.Fatal("accepted a partial with the wrong bucket count")
				}
			}
		}
	})
}
