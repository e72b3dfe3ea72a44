package alarm

import "encoding/json"

// AlarmEvent builds the EventBridge event CloudWatch sends when an alarm
// changes state; the lab's alarm evaluator sends exactly this.
func AlarmEvent(alarmName, region, state, reason string, at string) []byte {
	b, _ := json.Marshal(map[string]any{
		"version": "0", "id": "lab-" + at, "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
		"account": "000000000000", "time": at, "region": region, "resources": []string{"arn:aws:cloudwatch:" + region + ":000000000000:alarm:" + alarmName},
		"detail": map[string]any{"alarmName": alarmName, "state": map[string]any{"value": state, "reason": reason, "timestamp": at}},
	})
	return b
}

// ScheduledEvent builds an EventBridge scheduled event.
func ScheduledEvent(region, at string) []byte {
	b, _ := json.Marshal(map[string]any{"version": "0", "id": "lab-" + at, "detail-type": "Scheduled Event", "source": "aws.events",
		"account": "000000000000", "time": at, "region": region, "resources": []string{}, "detail": map[string]any{}})
	return b
}
