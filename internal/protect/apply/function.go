package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/pilotlight/pilotlight/guard"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/protect"
	"github.com/pilotlight/pilotlight/internal/protect/inventory"
)

// lambdas are both regions' Lambda control planes and the deployment's
// lease: what copying a function needs, on either target.
type lambdas struct {
	Primary, DR             string
	PrimaryLambda, DRLambda *lambda.Client
	Lease                   control.LeaseConfig
}

// guardEnv is what a guarded function is given: the control table and the
// deployment's lease, which its guard reads (guard.ConfigFromEnv).
func (t lambdas) guardEnv(controlTable string) map[string]string {
	return map[string]string{guard.EnvControlTable: controlTable,
		guard.EnvLeaseTerm: t.Lease.Term.String(), guard.EnvClockEpsilon: t.Lease.Epsilon.String(), guard.EnvWriteDeadline: t.Lease.Delta.String()}
}

// variables are a function's environment variables, a copy (empty, not
// nil, when it has none: Lambda leaves the environment out then).
func variables(c *lambdatypes.FunctionConfiguration) map[string]string {
	out := map[string]string{}
	if c != nil && c.Environment != nil {
		maps.Copy(out, c.Environment.Variables)
	}
	return out
}

// applyFunction gives a function its DR copy: the same code (downloaded
// from the primary, as a person would), runtime, handler, memory, timeout,
// role, environment and tags, and its URL if it has one. A guarded
// function and its copy get the guard's variables. Each step checks what
// is there first, so applying again resumes.
func applyFunction(ctx context.Context, f inventory.Function, p protect.Plan, t lambdas, say func(string, ...any)) error {
	src, err := t.PrimaryLambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(f.Name)})
	if err != nil {
		return fmt.Errorf("read it in %s: %w", t.Primary, err)
	}
	env := variables(src.Configuration)
	if slices.Contains(p.Guarded, f.Name) {
		want := maps.Clone(env)
		maps.Copy(want, t.guardEnv(p.ControlTable))
		if !maps.Equal(want, env) {
			say("%s: setting %s and the lease on it in %s (its guard reads them)", f.Name, guard.EnvControlTable, t.Primary)
			if _, err := t.PrimaryLambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(f.Name),
				Environment: &lambdatypes.Environment{Variables: want}}); err != nil {
				return fmt.Errorf("set its guard's variables: %w", err)
			}
			env = want
		}
	}
	arn := aws.ToString(src.Configuration.FunctionArn)
	cur, err := t.DRLambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(f.Name)})
	var nf *lambdatypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
	case err != nil:
		return fmt.Errorf("read its copy in %s: %w", t.DR, err)
	case cur.Tags[protect.CopyTag] != arn:
		return fmt.Errorf("a function named %s already exists in %s and is not pilotlight's copy of %s (no %s tag naming it): rename or delete it there, then apply again", f.Name, t.DR, arn, protect.CopyTag)
	case aws.ToString(cur.Configuration.CodeSha256) != aws.ToString(src.Configuration.CodeSha256) || cur.Configuration.Runtime != src.Configuration.Runtime ||
		!slices.Equal(cur.Configuration.Architectures, src.Configuration.Architectures):
		say("%s: its copy in %s has older code, or another runtime: making it again", f.Name, t.DR)
		if _, err := t.DRLambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(f.Name)}); err != nil {
			return fmt.Errorf("replace its copy: %w", err)
		}
		cur = nil
	default:
		// The rest of its configuration follows the function's: what
		// check compares, so a second apply is its fix.
		c, d := src.Configuration, cur.Configuration
		if !maps.Equal(variables(d), env) || aws.ToString(c.Role) != aws.ToString(d.Role) || aws.ToString(c.Handler) != aws.ToString(d.Handler) ||
			aws.ToInt32(c.Timeout) != aws.ToInt32(d.Timeout) || aws.ToInt32(c.MemorySize) != aws.ToInt32(d.MemorySize) {
			say("%s: its copy in %s takes the function's configuration", f.Name, t.DR)
			if _, err := t.DRLambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(f.Name),
				Role: c.Role, Handler: c.Handler, Timeout: c.Timeout, MemorySize: c.MemorySize,
				Environment: &lambdatypes.Environment{Variables: env}}); err != nil {
				return fmt.Errorf("update its copy's configuration: %w", err)
			}
		}
	}
	if cur == nil {
		code, err := download(ctx, aws.ToString(src.Code.Location))
		if err != nil {
			return fmt.Errorf("download its code: %w", err)
		}
		c := src.Configuration
		tags := maps.Clone(src.Tags)
		if tags == nil {
			tags = map[string]string{}
		}
		tags[protect.CopyTag] = arn
		say("%s: creating its DR copy in %s (%d bytes of code)", f.Name, t.DR, len(code))
		if _, err := t.DRLambda.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(f.Name), Runtime: c.Runtime, Role: c.Role, Handler: c.Handler,
			Description: c.Description, Timeout: c.Timeout, MemorySize: c.MemorySize, Architectures: c.Architectures, Tags: tags,
			Environment: &lambdatypes.Environment{Variables: env}, Code: &lambdatypes.FunctionCode{ZipFile: code}}); err != nil {
			return fmt.Errorf("create its DR copy: %w", err)
		}
	}
	if f.URL == "" {
		return nil
	}
	if _, err := t.DRLambda.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String(f.Name)}); errors.As(err, &nf) {
		u, err := t.DRLambda.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String(f.Name), AuthType: lambdatypes.FunctionUrlAuthType(f.URLAuth)})
		if err != nil {
			return fmt.Errorf("give its copy a URL: %w", err)
		}
		say("%s: its copy's URL is %s", f.Name, aws.ToString(u.FunctionUrl))
	} else if err != nil {
		return fmt.Errorf("read its copy's URL: %w", err)
	}
	return nil
}

func download(ctx context.Context, url string) ([]byte, error) {
	if url == "" {
		return nil, errors.New("GetFunction gave no code location")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s from the code location", resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 250<<20))
}

// removeFunction deletes the function's DR copy (only one apply made) and
// takes the guard's variables off the function, leaving the rest of it
// as it was.
func removeFunction(ctx context.Context, f inventory.Function, p protect.Plan, t lambdas, say func(string, ...any)) error {
	src, err := t.PrimaryLambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(f.Name)})
	var nf *lambdatypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		say("%s: no longer in %s: nothing of it to restore", f.Name, t.Primary)
	case err != nil:
		return fmt.Errorf("read it in %s: %w", t.Primary, err)
	case slices.Contains(p.Guarded, f.Name):
		env := variables(src.Configuration)
		n := len(env)
		for k := range t.guardEnv("") {
			delete(env, k)
		}
		if len(env) != n {
			if _, err := t.PrimaryLambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(f.Name),
				Environment: &lambdatypes.Environment{Variables: env}}); err != nil {
				return fmt.Errorf("take its guard's variables off: %w", err)
			}
			say("%s: its guard's variables removed in %s", f.Name, t.Primary)
		}
	}
	cur, err := t.DRLambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(f.Name)})
	switch {
	case errors.As(err, &nf):
		return nil
	case err != nil:
		return fmt.Errorf("read its copy in %s: %w", t.DR, err)
	case cur.Tags[protect.CopyTag] == "":
		say("%s: the function of that name in %s is not pilotlight's copy: left alone", f.Name, t.DR)
		return nil
	}
	if _, err := t.DRLambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(f.Name)}); err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("delete its DR copy: %w", err)
	}
	say("%s: its DR copy in %s deleted", f.Name, t.DR)
	return nil
}
