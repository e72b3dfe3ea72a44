package protect

import (
	"encoding/json"
	"fmt"

	"github.com/pilotlight/pilotlight/internal/region"
)

// ARC describes the Route 53 ARC Region switch plan an export is for.
type ARC struct {
	// Controller is pilotlight's failover-controller function name (the
	// same in both regions).
	Controller string
	// HostedZoneID and RecordName, when set, add the routing step (Route
	// 53 health-check records); otherwise the plan has no routing step
	// and says so in its description.
	HostedZoneID, RecordName string
}

// ARCTemplate is the plan as an AWS::ARCRegionSwitch::Plan, for a team
// already on ARC Region switch: one workflow per region to activate, each
// running pilotlight's planned failover as a custom-Lambda step and then
// the routing step.
//
// pilotlight's fencing is never inside the custom-Lambda block: ARC skips
// that block in an ungraceful run (Ungraceful behaviour "skip", stated
// here), and pilotlight's own detection — the health checks, the alarm and
// the failover controller, with its lease and witness — fences the failed
// region whatever ARC runs. The Lambda step is the graceful path only (a
// planned failover: handover, drain, zero loss); the routing step moves
// traffic in both kinds of run.
func ARCTemplate(p Plan, a ARC) (json.RawMessage, error) {
	if a.Controller == "" {
		return nil, fmt.Errorf("ARC export: the failover controller's function name is needed")
	}
	name := region.Names{App: p.App}.ARCPlan()
	workflow := func(to string) obj {
		steps := []obj{{
			"Name":               "pilotlight-planned-failover",
			"Description":        "pilotlight's planned failover to " + to + " (handover, drain, zero loss). Skipped in an ungraceful run: pilotlight's own detection and lease fence the failed region without it.",
			"ExecutionBlockType": "CustomActionLambda",
			"ExecutionBlockConfiguration": obj{"CustomActionLambdaConfig": obj{
				"Lambdas":              []obj{{"Arn": obj{"Fn::Sub": "arn:${AWS::Partition}:lambda:" + to + ":${AWS::AccountId}:function:" + a.Controller}}},
				"RegionToRun":          "activatingRegion",
				"RetryIntervalMinutes": 1,
				"TimeoutMinutes":       15,
				"Ungraceful":           obj{"Behavior": "skip"},
			}},
		}}
		if a.HostedZoneID != "" && a.RecordName != "" {
			steps = append(steps, obj{
				"Name":               "routing",
				"Description":        "move traffic to " + to + " (Route 53 health-check records)",
				"ExecutionBlockType": "Route53HealthCheck",
				"ExecutionBlockConfiguration": obj{"Route53HealthCheckConfig": obj{
					"HostedZoneId": a.HostedZoneID, "RecordName": a.RecordName, "TimeoutMinutes": 10,
				}},
			})
		}
		return obj{"WorkflowTargetAction": "activate", "WorkflowTargetRegion": to, "WorkflowDescription": "activate " + to + " for " + p.App, "Steps": steps}
	}
	desc := fmt.Sprintf("pilotlight protect %s (plan %s, tier %s: %s)", p.App, p.Hash, p.Tier, p.Promise)
	if a.HostedZoneID == "" {
		desc += ". No routing step: pass --hosted-zone and --record to add one."
	}
	t := obj{
		"AWSTemplateFormatVersion": "2010-09-09",
		"Description":              "ARC Region switch plan for " + p.App + ", exported by pilotlight",
		"Parameters": obj{"ExecutionRoleArn": obj{"Type": "String", "Description": "the role ARC Region switch runs the plan as (it may invoke " + a.Controller + " in both regions)",
			"AllowedPattern": "^arn:aws[a-zA-Z0-9-]*:iam::[0-9]{12}:role/.+$"}},
		"Resources": obj{"RegionSwitchPlan": obj{"Type": "AWS::ARCRegionSwitch::Plan", "Properties": obj{
			"Name":             name,
			"Description":      desc,
			"ExecutionRole":    obj{"Ref": "ExecutionRoleArn"},
			"RecoveryApproach": "activePassive",
			"PrimaryRegion":    p.Primary,
			"Regions":          []string{p.Primary, p.DR},
			"Workflows":        []obj{workflow(p.DR), workflow(p.Primary)},
		}}},
	}
	return json.MarshalIndent(t, "", "  ")
}
