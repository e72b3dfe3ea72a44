package awstest

import (
	"bytes"
	"context"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"testing"
)

// Answer changes one kind of answer of an emulator: the recorded shape of
// what AWS answers in a case the emulator cannot produce (a legacy global
// table, a function whose code cannot be downloaded).
type Answer struct {
	// Match picks the request (its body already read).
	Match func(r *http.Request, body []byte) bool
	// Edit returns the answer's new body (and may set its status and
	// headers: an error's type, X-Amzn-ErrorType).
	Edit func(resp *http.Response, body []byte) []byte
}

// Answers serves upstream (moto) through a proxy that gives the matched
// requests the edited answers, and returns the proxy's endpoint; it stops
// when the test ends. DynamoDB's answer checksum (X-Amz-Crc32) is
// recomputed, as the SDK verifies it.
func Answers(t testing.TB, upstream string, answers ...Answer) string {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = func(resp *http.Response) error {
		a, ok := resp.Request.Context().Value(answerKey{}).(*Answer)
		if !ok {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		body = a.Edit(resp, body)
		resp.Status = strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		if resp.Header.Get("X-Amz-Crc32") != "" {
			resp.Header.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		for i := range answers {
			if answers[i].Match(r, body) {
				r = r.WithContext(contextWith(r, &answers[i]))
				break
			}
		}
		p.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

type answerKey struct{}

func contextWith(r *http.Request, a *Answer) context.Context {
	return context.WithValue(r.Context(), answerKey{}, a)
}
