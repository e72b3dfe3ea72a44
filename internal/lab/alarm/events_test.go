package alarm

import (
	"testing"

	"github.com/pilotlight/pilotlight/internal/backup"
	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/validate"
)

// The events the lab's alarm and scheduler send are the ones the functions
// take: the controller reads the alarm's change of state and the schedule's
// tick, the backup manager and the validator a scheduled event.
func TestLabEventsAreWhatTheFunctionsRead(t *testing.T) {
	inv, err := failover.ParseInvocation(AlarmEvent("pilotlight-primary-unhealthy", "us-west-2", "ALARM", "3 of 3", "2026-11-26T09:00:00Z"))
	if err != nil || inv.Kind != failover.InvokeAlarm || inv.AlarmState != "ALARM" || inv.AlarmName != "pilotlight-primary-unhealthy" {
		t.Fatalf("alarm event: %+v, %v", inv, err)
	}
	sched := ScheduledEvent("us-west-2", "2026-11-26T09:00:00Z")
	if inv, err := failover.ParseInvocation(sched); err != nil || inv.Kind != failover.InvokeSchedule {
		t.Fatalf("scheduled event to the controller: %+v, %v", inv, err)
	}
	if r, err := backup.ParseRequest(sched); err != nil || r.Action != backup.ActionScheduled {
		t.Fatalf("scheduled event to the backup manager: %+v, %v", r, err)
	}
	if r, err := validate.ParseRequest(sched); err != nil || !r.Scheduled {
		t.Fatalf("scheduled event to the validator: %+v, %v", r, err)
	}
}
