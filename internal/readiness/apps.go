package readiness

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// App is an application `protect apply` adopted, as its applied plan lists
// it: what a failover of it needs in the DR region.
type App struct {
	Name, Tier string
	Tables     []string
	// Buckets maps each bucket to its replica in the DR region.
	Buckets   map[string]string
	Functions []string
	// Lambda reads function configurations by region (nil: the functions
	// are not checked).
	Lambda map[string]FunctionReader
}

func (a App) checks() []func(context.Context, Input) Result {
	var out []func(context.Context, Input) Result
	if len(a.Tables) > 0 {
		out = append(out, a.tables)
	}
	if len(a.Buckets) > 0 {
		out = append(out, a.buckets)
	}
	if len(a.Functions) > 0 {
		out = append(out, a.functions)
	}
	return out
}

func (a App) check(what string) string { return "app " + a.Name + ": " + what }

// tables: each table in both regions, alike, its stream on.
func (a App) tables(ctx context.Context, in Input) Result {
	var problems []string
	for _, t := range a.Tables {
		if _, p := tableAlike(ctx, in, t); len(p) > 0 {
			problems = append(problems, t+": "+strings.Join(p, "; "))
		}
	}
	return verdict(Result{Check: a.check("tables")}, problems,
		"a table must be in both regions, alike, with its stream on: run protect apply again with the applied plan",
		fmt.Sprintf("%d table(s) alike in %s and %s", len(a.Tables), in.Primary, in.DR))
}

// buckets: each bucket versioned, and its replica there and versioned.
func (a App) buckets(ctx context.Context, in Input) Result {
	var problems []string
	for _, b := range slices.Sorted(maps.Keys(a.Buckets)) {
		for r, name := range map[string]string{in.Primary: b, in.DR: a.Buckets[b]} {
			c, ok := in.Clients[r]
			if !ok {
				problems = append(problems, r+": no client")
				continue
			}
			out, err := c.S3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(name)})
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("%s (%s): %v", name, r, err))
			case out.Status != s3types.BucketVersioningStatusEnabled:
				problems = append(problems, fmt.Sprintf("%s (%s): versioning %q", name, r, string(out.Status)))
			}
		}
	}
	return verdict(Result{Check: a.check("buckets")}, problems,
		"each bucket and its replica must be versioned: run protect apply again with the applied plan",
		fmt.Sprintf("%d bucket(s) and their replicas versioned", len(a.Buckets)))
}

// functions: each function's DR copy there, with its code and
// configuration — a function deployed again since apply leaves its copy
// behind, the pilot light's classic failure.
func (a App) functions(ctx context.Context, in Input) Result {
	res := Result{Check: a.check("functions")}
	if a.Lambda == nil {
		res.Status, res.Detail = Warn, "not checked: this target has no Lambda control plane"
		return res
	}
	var problems []string
	for _, fn := range a.Functions {
		problems = append(problems, in.functionAlike(ctx, a.Lambda, fn, "the DR copy of "+fn+" differs from it")...)
	}
	return verdict(res, problems, "run protect apply again with the applied plan: it copies each function's current code and configuration",
		fmt.Sprintf("%d function(s) and their DR copies alike (code SHA-256 and configuration)", len(a.Functions)))
}
