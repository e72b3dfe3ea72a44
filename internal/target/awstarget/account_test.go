package awstarget

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
)

func TestCredentialErrors(t *testing.T) {
	cases := map[string]error{
		"session token has expired": &smithy.GenericAPIError{Code: "ExpiredToken", Message: "The security token included in the request is expired"},
		"rejected the credentials":  &smithy.GenericAPIError{Code: "InvalidClientTokenId", Message: "invalid"},
		"no AWS credentials":        errors.New("failed to retrieve credentials: no providers"),
	}
	for want, err := range cases {
		if got := credentialError(err); !strings.Contains(got.Error(), want) {
			t.Errorf("%v → %q, want %q", err, got, want)
		}
	}
}
