package region

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SigV4Transport signs requests for an AWS service, as function URLs with
// AuthType AWS_IAM require. The region comes from the host name
// (<id>.lambda-url.<region>.on.aws).
type SigV4Transport struct {
	Credentials aws.CredentialsProvider
	Service     string
	Base        http.RoundTripper
	signer      *v4.Signer
	once        sync.Once
}

func (s *SigV4Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	s.once.Do(func() { s.signer = v4.NewSigner() })
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.Sum256(body)
	creds, err := s.Credentials.Retrieve(req.Context())
	if err != nil {
		return nil, err
	}
	if err := s.signer.SignHTTP(req.Context(), creds, r, hex.EncodeToString(sum[:]), s.Service, RegionOfURLHost(r.URL.Host), time.Now()); err != nil {
		return nil, err
	}
	base := s.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// RegionOfURLHost reads the region out of a function URL's host.
func RegionOfURLHost(host string) string {
	parts := strings.Split(host, ".")
	for i, p := range parts {
		if p == "lambda-url" && i+1 < len(parts) {
			return parts[i+1]
		}
	}
	return ""
}
