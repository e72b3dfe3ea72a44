package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/pilotlight/pilotlight/internal/deploy"
)

// runtime is one Lambda runtime's lifecycle: after Blocked no function can
// be created with it, so no DR copy can be made.
type runtime struct {
	Name, Deprecated, Blocked, Successor string
}

// runtimes are the lifecycles of runtimes blocked since 2021 or to be, as
// cfn-lint 1.51 knows them (rule E2533; TestRuntimesMatchCfnLint holds
// this table to its data).
var runtimes = []runtime{
	{"python2.7", "2021-07-15", "2021-07-15", "python3.14"},
	{"nodejs10.x", "2021-07-30", "2021-07-30", "nodejs24.x"},
	{"ruby2.5", "2021-07-30", "2021-07-30", "ruby3.4"},
	{"dotnetcore2.1", "2022-01-05", "2022-01-05", "dotnet9"},
	{"python3.6", "2022-07-18", "2022-07-18", "python3.14"},
	{"nodejs12.x", "2023-03-31", "2023-03-31", "nodejs24.x"},
	{"dotnetcore3.1", "2023-04-03", "2023-04-03", "dotnet9"},
	{"nodejs14.x", "2023-12-04", "2024-01-09", "nodejs24.x"},
	{"python3.7", "2023-12-04", "2024-01-09", "python3.14"},
	{"ruby2.7", "2023-12-07", "2024-01-09", "ruby3.4"},
	{"go1.x", "2024-01-08", "2024-02-08", "provided.al2023"},
	{"java8", "2024-01-08", "2024-02-08", "java25"},
	{"provided", "2024-01-08", "2024-02-08", "provided.al2023"},
	{"dotnet6", "2024-12-20", "2026-06-01", "dotnet9"},
	{"nodejs16.x", "2024-06-12", "2026-06-01", "nodejs24.x"},
	{"nodejs18.x", "2025-09-01", "2026-06-01", "nodejs24.x"},
	{"nodejs20.x", "2026-04-30", "2026-06-01", "nodejs24.x"},
	{"python3.8", "2024-10-14", "2026-06-01", "python3.14"},
	{"python3.9", "2025-12-15", "2026-06-01", "python3.14"},
	{"ruby3.2", "2026-03-31", "2026-06-01", "ruby3.4"},
	{"java11", "2026-06-30", "2026-07-31", "java25"},
	{"java17", "2026-06-30", "2026-07-31", "java25"},
	{"java8.al2", "2026-06-30", "2026-07-31", "java25"},
	{"provided.al2", "2026-06-30", "2026-07-31", "provided.al2023"},
	{"python3.10", "2026-06-30", "2026-07-31", "python3.14"},
	{"python3.11", "2026-06-30", "2026-07-31", "python3.14"},
	{"dotnet8", "2026-11-10", "2026-12-10", "dotnet9"},
	{"ruby3.3", "2027-03-31", "2027-04-30", "ruby3.4"},
	{"nodejs22.x", "2027-04-30", "2027-06-01", "nodejs24.x"},
	{"ruby3.4", "2028-03-31", "2028-04-30", ""},
	{"nodejs24.x", "2028-04-30", "2028-06-01", ""},
	{"python3.12", "2028-10-31", "2028-11-30", "python3.14"},
	{"java21", "2029-06-30", "2029-07-31", "java25"},
	{"java25", "2029-06-30", "2029-07-31", ""},
	{"provided.al2023", "2029-06-30", "2029-07-31", ""},
	{"python3.13", "2029-06-30", "2029-07-31", "python3.14"},
	{"python3.14", "2029-06-30", "2029-07-31", ""},
}

func scanFunctions(ctx context.Context, src Source, sel Selector) ([]Function, error) {
	var out []Function
	p := lambda.NewListFunctionsPaginator(src.Lambda, &lambda.ListFunctionsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list functions in %s: %w", src.Primary, err)
		}
		for _, c := range page.Functions {
			name := aws.ToString(c.FunctionName)
			if !sel.named(name) || src.excluded(name) {
				continue
			}
			f, err := describeFunction(ctx, src, c)
			if err != nil {
				return nil, err
			}
			if !sel.tagged(f.Tags) {
				continue
			}
			f.Findings = preflightFunction(f, src.Primary, src.DR, src.now())
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func describeFunction(ctx context.Context, src Source, c lambdatypes.FunctionConfiguration) (Function, error) {
	name := aws.ToString(c.FunctionName)
	f := Function{Name: name, Runtime: string(c.Runtime), PackageType: string(c.PackageType), Role: aws.ToString(c.Role), Architecture: "x86_64",
		Handler: aws.ToString(c.Handler), Memory: aws.ToInt32(c.MemorySize), Timeout: aws.ToInt32(c.Timeout)}
	if len(c.Architectures) > 0 {
		f.Architecture = string(c.Architectures[0])
	}
	for _, l := range c.Layers {
		f.Layers = append(f.Layers, aws.ToString(l.Arn))
	}
	if c.Environment != nil {
		for k := range c.Environment.Variables {
			f.Environment = append(f.Environment, k)
		}
		sort.Strings(f.Environment)
	}
	g, err := src.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	switch {
	case denied(err):
		f.Unreadable = append(f.Unreadable, "its code cannot be read: GetFunction was refused ("+err.Error()+")")
	case err != nil:
		return f, fmt.Errorf("function %s: %w", name, err)
	default:
		f.Tags = g.Tags
		if f.PackageType != string(lambdatypes.PackageTypeImage) && (g.Code == nil || aws.ToString(g.Code.Location) == "") {
			f.Unreadable = append(f.Unreadable, "its code cannot be downloaded: GetFunction gave no code location")
		}
	}
	for _, l := range f.Layers {
		if _, err := src.Lambda.GetLayerVersionByArn(ctx, &lambda.GetLayerVersionByArnInput{Arn: aws.String(l)}); err != nil {
			if !denied(err) && !absent(err) {
				return f, fmt.Errorf("function %s: layer %s: %w", name, l, err)
			}
			f.Unreadable = append(f.Unreadable, "layer "+l+" cannot be read ("+err.Error()+")")
		}
	}
	if u, err := src.Lambda.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String(name)}); err == nil {
		f.URL, f.URLAuth = aws.ToString(u.FunctionUrl), string(u.AuthType)
	} else if !absent(err) {
		return f, fmt.Errorf("function %s: url: %w", name, err)
	}
	m, err := src.Lambda.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String(name)})
	if err != nil && !absent(err) {
		return f, fmt.Errorf("function %s: event sources: %w", name, err)
	}
	if m != nil {
		for _, e := range m.EventSourceMappings {
			f.Sources = append(f.Sources, aws.ToString(e.EventSourceArn))
		}
	}
	return f, nil
}

// denied reports whether err is AWS refusing the call.
func denied(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	c := ae.ErrorCode()
	return c == "AccessDeniedException" || c == "AccessDenied" || c == "UnauthorizedOperation"
}

func preflightFunction(f Function, primary, dr string, now time.Time) []Finding {
	var fs []Finding
	for _, r := range runtimes {
		if r.Name != f.Runtime {
			continue
		}
		switch today := now.Format("2006-01-02"); {
		case today >= r.Blocked:
			fs = append(fs, Finding{Blocker, "runtime " + f.Runtime + " is deprecated: Lambda creates no function with it since " + r.Blocked + ", so no DR copy can be made", "move the function to " + orDefault(r.Successor, "a supported runtime") + ", then scan again", false})
		case today >= r.Deprecated:
			fs = append(fs, Finding{Note, "runtime " + f.Runtime + " is deprecated: from " + r.Blocked + " its DR copy could no longer be created", "move the function to " + orDefault(r.Successor, "a supported runtime"), false})
		}
	}
	for _, u := range f.Unreadable {
		fs = append(fs, Finding{Blocker, u + ": its DR copy cannot be made from it", "let this principal read it (lambda:GetFunction on the function; a layer of another account shared with yours by lambda:AddLayerVersionPermission), then scan again", false})
	}
	for _, l := range f.Layers {
		if slices.ContainsFunc(f.Unreadable, func(u string) bool { return strings.Contains(u, l) }) {
			continue
		}
		// arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION
		parts := strings.Split(l, ":")
		if len(parts) >= 4 && parts[3] != dr {
			fs = append(fs, Finding{Change, "layer " + l + " is regional: the DR copy needs it in " + dr, "the plan publishes a copy of the layer in " + dr + " (its content must be retrievable: a layer of another account must be shared with yours)", false})
		}
	}
	if f.PackageType == string(lambdatypes.PackageTypeImage) {
		fs = append(fs, Finding{Blocker, "a container image function: its image must be in an ECR repository of " + dr, "set up ECR replication to " + dr + " for its repository, then scan again", false})
	}
	if f.URL != "" && (slices.Contains(deploy.NoFunctionURLs, dr) || slices.Contains(deploy.NoFunctionURLs, primary)) {
		fs = append(fs, Finding{Blocker, "it is reached by a function URL, and " + dr + " has no Lambda function URLs", "choose another DR region, or put API Gateway in front of the function", false})
	}
	for _, s := range f.Sources {
		if strings.Contains(s, ":sqs:") || strings.Contains(s, ":kinesis:") || strings.Contains(s, ":kafka:") {
			fs = append(fs, Finding{Note, "event source " + s + " is regional: the DR copy gets a mapping to the same kind of source in " + dr + " only if you name it; its messages are not replicated", "", false})
		}
	}
	return fs
}
