package front

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestClassifyWrite(t *testing.T) {
	const del = `<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a/1</Key></Object>` +
		`<Object><Key>a/2</Key><VersionId>v9</VersionId></Object><Object><Key>_canary/x</Key></Object><Quiet>true</Quiet></Delete>`
	for _, tc := range []struct {
		method, target, body string
		want                 *objectWrite
	}{
		{"PUT", "/b/orders/1.json?x-id=PutObject", "", &objectWrite{bucket: "b", key: "orders/1.json"}},
		{"PUT", "/b/orders/1.json", "", &objectWrite{bucket: "b", key: "orders/1.json"}},
		{"DELETE", "/b/orders/1.json?x-id=DeleteObject", "", &objectWrite{bucket: "b", key: "orders/1.json"}},
		{"POST", "/b/big?uploadId=u1", "", &objectWrite{bucket: "b", key: "big"}},
		{"POST", "/b?delete", del, &objectWrite{bucket: "b", multi: []string{"a/1"}}},
		{"DELETE", "/b/orders/1.json?versionId=v1", "", nil}, // a version deleted for good: not replicated
		{"PUT", "/b/orders/1.json?tagging", "", nil},
		{"PUT", "/b/big?partNumber=1&uploadId=u1", "", nil},
		{"POST", "/b/big?uploads", "", nil},
		{"GET", "/b/orders/1.json", "", nil},
		{"PUT", "/b", "", nil},                 // CreateBucket
		{"PUT", "/b/_canary/probe-1", "", nil}, // canaries never replicate
		{"POST", "/b?delete", "not xml", nil},  // unreadable: the request still goes through
		{"POST", "/b?delete", strings.Repeat("<", 9), nil},
	} {
		r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
		got := classifyWrite(r)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s %s = %+v, want %+v", tc.method, tc.target, got, tc.want)
		}
		// The body still reaches the server whole.
		if b, _ := io.ReadAll(r.Body); string(b) != tc.body {
			t.Errorf("%s %s: body forwarded %q, want %q", tc.method, tc.target, b, tc.body)
		}
	}
}

func FuzzClassifyWrite(f *testing.F) {
	f.Add("POST", "/b?delete", `<Delete><Object><Key>k</Key></Object></Delete>`)
	f.Add("PUT", "/b/k?x-id=PutObject", "")
	f.Add("DELETE", "/b/k", "")
	f.Fuzz(func(t *testing.T, method, target, body string) {
		r, err := http.NewRequest(method, "http://127.0.0.1"+target, strings.NewReader(body))
		if err != nil {
			t.Skip()
		}
		w := classifyWrite(r)
		if b, _ := io.ReadAll(r.Body); string(b) != body {
			t.Fatalf("body changed: %q -> %q", body, b)
		}
		if w == nil {
			return
		}
		if w.bucket == "" || (w.key == "") == (len(w.multi) == 0) {
			t.Fatalf("malformed write %+v", w)
		}
		if SkipKey(w.key) || slices.ContainsFunc(w.multi, SkipKey) {
			t.Fatalf("a canary key is noted: %+v", w)
		}
	})
}

// A feed nobody reads for long (failback replication off for hours) stops
// queueing at its cap and says so, and the reader lists the bucket whole.
func TestFeedOverflowAsksForAListing(t *testing.T) {
	f := &ChangeFront{feeds: map[*Feed]struct{}{}, cap: 3}
	c := f.Subscribe(make(chan struct{}, 1))
	for i := range 2 {
		f.note("b", []Change{{Key: fmt.Sprint(i), Version: "v"}}, time.Now())
	}
	if got, over := c.Take("b"); len(got) != 2 || over {
		t.Fatalf("under the cap: %d changes, overflow %v", len(got), over)
	}
	for i := range 5 {
		f.note("b", []Change{{Key: fmt.Sprint(i), Version: "v"}}, time.Now())
	}
	if got, over := c.Take("b"); len(got) != 0 || !over {
		t.Fatalf("past the cap: %d changes, overflow %v; want none and a listing", len(got), over)
	}
	if got, over := c.Take("b"); len(got) != 0 || over {
		t.Fatalf("after the take: %d changes, overflow %v", len(got), over)
	}
}
