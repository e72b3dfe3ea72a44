package region

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

func TestRegionOfURLHost(t *testing.T) {
	for host, want := range map[string]string{"abc123.lambda-url.eu-west-1.on.aws": "eu-west-1", "127.0.0.1:8080": ""} {
		if got := RegionOfURLHost(host); got != want {
			t.Errorf("%s: %q, want %q", host, got, want)
		}
	}
}

func TestSigV4TransportSigns(t *testing.T) {
	var auth, body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		b, _ := io.ReadAll(r.Body)
		body = string(b)
	}))
	defer srv.Close()
	c := &http.Client{Transport: &SigV4Transport{Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""), Service: "lambda"}}
	resp, err := c.Post(srv.URL+"/orders", "application/json", strings.NewReader(`{"id":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") || !strings.Contains(auth, "/lambda/aws4_request") || body != `{"id":"x"}` {
		t.Fatalf("authorization %q, body %q", auth, body)
	}
}
