package region

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

func TestNames(t *testing.T) {
	n := Names{App: "pilotlight"}
	tests := []struct {
		name, got, want string
	}{
		{"table", n.Table(), "pilotlight-orders"},
		{"control", n.ControlTable(), "pilotlight-control"},
		{"bucket", n.Bucket("us-west-2"), "pilotlight-data-us-west-2"},
		{"backup", n.BackupBucket("us-east-1"), "pilotlight-backup-us-east-1"},
		{"account bucket", Names{App: "pl", Account: "123456789012"}.Bucket("eu-west-1"), "pl-data-123456789012-eu-west-1"},
		{"stack", n.Stack("dr"), "pilotlight-dr"},
		{"journal", n.JournalKey(7), "run#7"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	// Bucket names: 3-63 chars, lowercase, digits, hyphens.
	long := Names{App: "abcdefghijklmnopqrst", Account: "123456789012"}.BackupBucket("ap-southeast-5")
	if len(long) > 63 || strings.ToLower(long) != long {
		t.Errorf("longest bucket name %q (%d chars) is not a valid bucket name", long, len(long))
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Spec{Name: "us-east-1"}); err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("no credentials: err = %v", err)
	}
	if _, err := New(Spec{Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}); err == nil {
		t.Error("empty name accepted")
	}
	c, err := New(Spec{Name: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""),
		Endpoints: map[Service]string{DynamoDB: "http://127.0.0.1:1"}, Local: true, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Streams.Options().BaseEndpoint; got == nil || *got != "http://127.0.0.1:1" {
		t.Errorf("streams endpoint should follow dynamodb: %v", got)
	}
	if c.S3.Options().BaseEndpoint != nil || !c.S3.Options().UsePathStyle {
		t.Errorf("s3 options: endpoint %v, path style %v", c.S3.Options().BaseEndpoint, c.S3.Options().UsePathStyle)
	}
	if r := c.DynamoDB.Options().Retryer; r == nil || r.MaxAttempts() != 1 {
		t.Errorf("probe clients must not retry: retryer %v", r)
	}
}
