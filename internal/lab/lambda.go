package lab

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pilotlight/pilotlight/internal/lab/faults"
	"github.com/pilotlight/pilotlight/internal/lab/lambdaplane"
	"github.com/pilotlight/pilotlight/internal/lab/server"
)

// startLambda serves each region's Lambda control plane for the user's own
// functions (lambdaplane): created with the AWS CLI or an SDK through
// `lab env`, adopted by `protect`, kept under <dir>/lambda/<region>. A
// region's plane answers as its functions do: not at all while the region
// is cut, late while it is slow.
func (l *Lab) startLambda() error {
	account := l.opts.Names.Account
	if account == "" {
		account = "000000000000"
	}
	for i, r := range l.regions {
		addr := "127.0.0.1:0"
		if l.opts.BasePort != 0 {
			addr = "127.0.0.1:" + strconv.Itoa(l.opts.BasePort+7+i)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return &server.PortInUseError{Port: l.opts.BasePort + 7 + i}
		}
		name := r.name
		p, err := lambdaplane.Open(lambdaplane.Options{Region: name, Account: account, Dir: filepath.Join(l.opts.Dir, "lambda", name),
			RIE: l.opts.Servers.RIE, AccessKey: l.creds.AccessKeyID, Log: l.log.With("component", "lambda", "region", name),
			// The user's functions run with the lab's key (their roles are
			// theirs, not the templates': the lab does not hold them to
			// them) and reach their own region's services.
			Env: []string{"AWS_ACCESS_KEY_ID=" + l.creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + l.creds.SecretAccessKey, "AWS_SESSION_TOKEN=",
				"AWS_ENDPOINT_URL_DYNAMODB=" + r.ep.DynamoDB, "AWS_ENDPOINT_URL_DYNAMODB_STREAMS=" + r.ep.DynamoDB, "AWS_ENDPOINT_URL_S3=" + r.ep.S3},
			Gate: func(ctx context.Context) error { return l.lambdaGate(ctx, name) }})
		if err != nil {
			ln.Close()
			return fmt.Errorf("lab Lambda in %s: %w", name, err)
		}
		p.Serve(ln)
		r.lambda = p
		r.ep.Lambda = p.Endpoint()
	}
	return nil
}

// lambdaGate is a region's Lambda fault, for pilotlight's functions and
// the user's alike: cut, it fails fast; slow, it waits.
func (l *Lab) lambdaGate(ctx context.Context, regionName string) error {
	f, faulted := l.inj.Fault(regionName, faults.Lambda)
	if !faulted {
		return nil
	}
	switch f.Kind {
	case faults.Cut:
		return fmt.Errorf("connection reset by peer (region %s cut)", regionName)
	case faults.Latency:
		select {
		case <-time.After(f.Latency):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (l *Lab) stopLambda() {
	for _, r := range l.regions {
		if r.lambda != nil {
			r.lambda.Close()
		}
	}
}
