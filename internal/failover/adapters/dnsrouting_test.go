package adapters

import (
	"context"
	"errors"
	"testing"
)

// Route 53's view through DNS: the primary is healthy while the failover
// record answers with anything but the DR host, unhealthy once it answers
// with the DR host (any case, with or without the root dot), and unknown
// when the name does not resolve (the controller then waits, and refuses).
func TestDNSRoutingReadsTheFailoverRecord(t *testing.T) {
	answer, fail := "abc.lambda-url.us-east-1.on.aws.", error(nil)
	d := DNSRouting{Record: "orders.example.com", DRHost: "xyz.lambda-url.us-west-2.on.aws",
		LookupCNAME: func(_ context.Context, host string) (string, error) {
			if host != "orders.example.com" {
				t.Fatalf("looked up %s", host)
			}
			return answer, fail
		}}
	ctx := context.Background()
	if ok, err := d.Healthy(ctx, "us-east-1"); !ok || err != nil {
		t.Fatalf("record on the primary: healthy %v, %v", ok, err)
	}
	answer = "XYZ.lambda-url.us-west-2.on.aws."
	if ok, err := d.Healthy(ctx, "us-east-1"); ok || err != nil {
		t.Fatalf("record on the DR region: healthy %v, %v", ok, err)
	}
	fail = errors.New("no such host")
	if _, err := d.Healthy(ctx, "us-east-1"); err == nil {
		t.Fatal("an unresolvable record gave a verdict")
	}
}
