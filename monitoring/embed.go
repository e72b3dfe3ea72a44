// Package monitoring embeds the CloudWatch dashboard that deploy fills in
// (${Region}, ${PrimaryRegion}, ${Table}, ${AccountId}, ${AlarmName}) and
// passes to the DR stack.
package monitoring

import (
	_ "embed"
	"strings"
)

//go:embed cloudwatch-dashboards.json
var dashboard string

// Dashboard returns the dashboard body with its placeholders filled.
func Dashboard(vars map[string]string) string {
	pairs := make([]string, 0, 2*len(vars))
	for k, v := range vars {
		pairs = append(pairs, "${"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(dashboard)
}
