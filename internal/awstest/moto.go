// Package awstest starts moto_server, an independent AWS emulator that comes
// with the machine image, for tests of AWS control-plane calls that have no
// local server of their own (CloudWatch alarms, EventBridge rules). A test
// that needs it fails in CI (CI=true) when it is missing and skips elsewhere.
package awstest

import (
	"archive/zip"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/pilotlight/pilotlight/internal/testenv"
)

// Moto starts moto_server on a free 127.0.0.1 port for the test and returns
// its endpoint; it stops when the test ends.
func Moto(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		testenv.Missing(t, "moto_server not found: CI checks the AWS control-plane calls against it (the machine image provides moto 5.2.1)",
			"moto_server not found: install moto to run this test")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not answer at %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Credentials are what moto accepts: anything.
var Credentials aws.CredentialsProvider = credentials.NewStaticCredentialsProvider("testing", "testing", "")

// Zip is a function's code package holding one file, bootstrap, with body.
func Zip(t testing.TB, body string) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	w, err := z.Create("bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(body))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
