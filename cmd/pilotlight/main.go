// Command pilotlight is pilot-light disaster recovery for serverless AWS
// applications: it deploys a primary and a DR region, fails over, fails back,
// and measures RTO and RPO — on AWS or in a local two-region lab.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Environ()))
}
