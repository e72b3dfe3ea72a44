package backup

import (
	"strings"
	"testing"
	"time"
)

func TestParseRequest(t *testing.T) {
	r, err := ParseRequest([]byte(`{"version":"0","detail-type":"Scheduled Event","source":"aws.events"}`))
	if err != nil || r.Action != ActionScheduled {
		t.Fatalf("scheduled: %+v %v", r, err)
	}
	r, err = ParseRequest([]byte(`{"action":"prune","keep":3,"max_age":"10d","dry_run":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if ret := r.Retention(7, time.Hour); ret.Keep != 3 || ret.MaxAge != 240*time.Hour || !ret.DryRun {
		t.Fatalf("retention %+v", ret)
	}
	if ret := (Request{Action: ActionPrune}).Retention(7, time.Hour); ret.Keep != 7 || ret.MaxAge != time.Hour {
		t.Fatalf("defaults %+v", ret)
	}
	bad := map[string]string{
		``:                                  "empty",
		`{"action":"delete"}`:               `action "delete"`,
		`{"action":"prune","keep":-1}`:      "use 0 or more",
		`{"action":"prune","max_age":"1w"}`: "max_age",
		`{"action":"create","extra":1}`:     "unknown field",
		`{"detail-type":"Object Created"}`:  "only scheduled events",
		`"create"`:                          "not a JSON object",
	}
	for in, want := range bad {
		if _, err := ParseRequest([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{`{"action":"create"}`, `{"action":"prune","keep":2,"max_age":"3d"}`, `{"detail-type":"Scheduled Event"}`, `{"action":"verify","snapshot":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			return
		}
		switch r.Action {
		case ActionCreate, ActionPrune, ActionVerify, ActionScheduled:
		default:
			t.Fatalf("accepted action %q", r.Action)
		}
		if ret := r.Retention(1, time.Hour); ret.Keep < 0 || ret.MaxAge < 0 {
			t.Fatalf("negative retention %+v", ret)
		}
	})
}
