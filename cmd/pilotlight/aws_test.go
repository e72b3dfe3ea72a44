package main

import (
	"strings"
	"testing"
)

// awsOffline makes sure no AWS call can leave the machine: no credentials,
// no profile files, no instance metadata.
func awsOffline(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
}

func TestDeployDryRunNeedsNoCredentials(t *testing.T) {
	awsOffline(t)
	dir := t.TempDir()
	r := runCLI(t, dir, nil, "deploy", "--dry-run")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	for _, want := range []string{"plan: pilotlight in us-east-1 (primary) and us-west-2 (DR), account <account>, detection profile free",
		"1. stack pilotlight-witness", "2. stack pilotlight-dr", "3. stack pilotlight-primary", "ESTIMATED MONTHLY COST", "total"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.out, "pilotlight-global") {
		t.Error("a Route 53 stack planned without a hosted zone")
	}
	r = runCLI(t, dir, nil, "deploy", "--dry-run", "--hosted-zone", "Z1", "--record", "orders.example.com")
	if r.code != 0 || !strings.Contains(r.out, "4. stack pilotlight-global") || !strings.Contains(r.out, "Route 53") {
		t.Fatalf("with a zone: exit %d\n%s%s", r.code, r.out, r.err)
	}
}

func TestAWSErrorsNameTheFix(t *testing.T) {
	awsOffline(t)
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"deploy", "--dry-run", "--dr", "us-east-1"}, "the DR region must be a different region"},
		{[]string{"deploy", "--dry-run", "--detection", "turbo"}, "use free (1-minute alarms"},
		{[]string{"deploy", "--dry-run", "--hosted-zone", "Z1"}, "needs a record name"},
		{[]string{"deploy"}, "no AWS credentials"},
		{[]string{"cleanup"}, "no AWS credentials"},
		{[]string{"--target", "aws", "status"}, "no AWS credentials"},
		{[]string{"--target", "aws", "drill"}, "no AWS credentials"},
		{[]string{"--target", "aws", "validate"}, "no AWS credentials"},
		{[]string{"--target", "aws", "backup", "list"}, "no AWS credentials"},
	}
	for _, c := range cases {
		r := runCLI(t, dir, nil, c.args...)
		if r.code == 0 || !strings.Contains(r.err, c.want) {
			t.Errorf("%v: exit %d, %q; want %q", c.args, r.code, r.err, c.want)
		}
	}
}
