package scenario

import (
	"context"
	"fmt"
	"strings"

	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/drill/report"
)

// scenario is one drill: its name, what it asserts (the report's and the
// chaos table's "expected"), its --help line, and the run that performs it.
type scenario struct {
	name     report.Scenario
	expected string
	// help is its line in --help; a schedule (an order of events the lease
	// protocol must survive) is listed under its own heading. The crash
	// scenarios share one line (group).
	help     string
	schedule bool
	group    string
	run      func(scene, context.Context) error
	// rtoBudget holds the measured RTO to the detection floor plus the
	// target's slack (Drill.RTOBudget).
	rtoBudget bool
}

// table is every drill, in the order `drill --scenario all` (make chaos)
// runs them: the one place a scenario is declared.
var table = append(append([]scenario{
	{name: RegionOutage, expected: "failover; failback loses 0", help: "cut the primary (DynamoDB, S3, Lambda) [default]", run: scene.regionOutage, rtoBudget: true},
	{name: NoFault, expected: "no failover; every write replicates", help: "no fault: no failover, every write replicates", run: scene.noFault},
	{name: DROutage, expected: "no new epoch; primary acknowledges ≥ 95% of writes", help: "cut the DR region: no new epoch, primary ≥ 95% acked", run: scene.drOutage},
	{name: WitnessOutage, expected: "no new epoch; primary keeps writing", help: "cut the witness: no new epoch, primary keeps writing", run: scene.witnessOutage},
	{name: ReturnBeforeFence, expected: "0 acknowledgements at an old epoch", help: "promote, slow the DR region's DynamoDB, bring the primary back: 0 acknowledgements at its old epoch", run: scene.returnBeforeFence},
	{name: GreyThenHard, expected: "failover happens", help: "700ms latency on the primary, then a cut: failover", run: scene.greyThenHard},
	{name: RefusedThenHealed, expected: "failover completes after the heal", help: "DR S3 slow while the primary is cut, then healed: failover completes after the heal, no operator", run: scene.refusedThenHealed},
	{name: FailbackPaused, expected: "refused before fencing; a region always writable", help: "replication paused, failback: refused before fencing", run: scene.failbackPaused},
	{name: FailbackLag, expected: "the primary holds every DR-acknowledged write at promotion", help: "5s replication lag, failback: nothing lost at promotion", run: scene.failbackLag},
	{name: Flapping, expected: "at most one failover", help: "cut/restore every 2s, then every 500ms: ≤ 1 failover", run: scene.flapping},
	{name: DoubleFault, expected: "failover (or a retry after recovery); never two writable regions", help: "DR DynamoDB +700ms while the primary is cut", run: scene.doubleFault},
	{name: ClockSkew, expected: "failover with one clock ε/2 ahead; the invariants hold", help: "the DR region's clock ε/2 ahead, then an outage", run: scene.clockSkew},
	{name: Load, expected: fmt.Sprintf("%d writes/s through failover and failback: report.RPO ≤ rate × (p99 lag + one alarm period); failback 0", LoadRate),
		help: fmt.Sprintf("%d writes/s through failover and failback: RPO within rate × (p99 replication lag + one alarm period)", LoadRate), run: scene.load},
}, crashScenarios()...), []scenario{
	{name: LWWSameKey, expected: "the later write survives in both regions", help: "the same keys written in both regions, the earlier one's stream read late: the later write survives", run: scene.lwwSameKey},
	{name: InterRegionPartition, expected: "no failover; a forced one: the old primary stops acknowledging before the new one starts",
		help: "the regions cannot reach each other, clients reach both: no failover; a forced one never overlaps", run: scene.partition},
	{name: ForcedThenUnforced, schedule: true, expected: "a second run during a forced wait grants nothing early: the old primary's last ack precedes the new one's first",
		help: "a second, unforced run during a forced failover's wait: nothing is granted early", run: scene.forcedThenUnforced},
	{name: ForcedInterrupted, schedule: true, expected: "the tick resumes the interrupted forced failover; never rolled back",
		help: "a forced failover interrupted in its wait: the tick resumes it, never rolls it back", run: scene.forcedInterrupted},
	{name: FailbackInterrupted, schedule: true, expected: "the tick resumes the interrupted failback within a term and a tick, drains and releases; failback loses 0",
		help: "a failback interrupted after its handover: the tick resumes it within a lease term and a tick", run: scene.failbackInterrupted},
	{name: PartialClaimThenWitnessOutage, schedule: true, expected: "the stray record is repaired; no new holder; the primary keeps writing with the witness down",
		help: "a claim lands on one record, then the witness goes down: the primary keeps writing", run: scene.partialClaimThenWitnessOutage},
	{name: FailbackMissedWitnessThenDROutage, schedule: true, expected: "the witness is brought up to date; the primary keeps writing with the DR region down",
		help: "the failback misses the witness, then the DR region goes down: the primary keeps writing", run: scene.failbackMissedWitnessThenDROutage},
	{name: LateHealthCheck, schedule: true, expected: "no failover; the primary acknowledges ≥ 95% of writes while its health-check runs come late",
		help: "one in three of the primary's health-check runs dropped: no failover, no refused writes", run: scene.lateHealthCheck},
}...)

// crashScenarios are controller-crash-after-PHASE, one per phase a
// controller can die after.
func crashScenarios() []scenario {
	var out []scenario
	var names []string
	for _, p := range crashPhases {
		names = append(names, string(p))
	}
	for _, p := range crashPhases {
		out = append(out, scenario{name: CrashAfter(p), expected: "a writable region within the RTO budget, no operator; the epoch advances once",
			group: "controller-crash-after-PHASE", help: "(PHASE: " + strings.Join(names, ", ") + ") the controller dies as it journals PHASE: writable within the RTO budget, no operator",
			run: scene.controllerCrash, rtoBudget: true})
	}
	return out
}

// crashPhases are the phases a controller can die after.
var crashPhases = []record.Phase{record.Detected, record.Decided, record.Fenced, record.Promoted, record.Verified}

// Scenarios lists the drills, in the order `--scenario all` runs them.
var Scenarios = func() []report.Scenario {
	out := make([]report.Scenario, len(table))
	for i, s := range table {
		out[i] = s.name
	}
	return out
}()

// Expectations is what each scenario asserts, for the report and the chaos
// table.
var Expectations = func() map[report.Scenario]string {
	out := make(map[report.Scenario]string, len(table))
	for _, s := range table {
		out[s.name] = s.expected
	}
	return out
}()

// lookup is the scenario named n.
func lookup(n report.Scenario) (scenario, bool) {
	for _, s := range table {
		if s.name == n {
			return s, true
		}
	}
	return scenario{}, false
}

// Help is the scenarios' part of `drill --help`: a line each (the crash
// scenarios one together), the schedules under their own heading, wrapped
// to 78 columns.
func Help() string {
	var b strings.Builder
	b.WriteString("Scenarios (each asserts its expected outcome; all check the invariants:\nno two write leases overlap, 0 split-brain commits from the data, the\nvalidator clean at the end):\n")
	seen := map[string]bool{}
	line := func(s scenario) {
		name := string(s.name)
		if s.group != "" {
			if seen[s.group] {
				return
			}
			seen[s.group], name = true, s.group
		}
		b.WriteString(wrap(name, s.help))
	}
	for _, s := range table {
		if !s.schedule {
			line(s)
		}
	}
	b.WriteString("Schedules (an order of events the lease protocol must survive):\n")
	for _, s := range table {
		if s.schedule {
			line(s)
		}
	}
	return b.String()
}

// wrap is one help entry: the name in a 21-column field (longer names take
// their own width), the text wrapped at 78 columns under it.
func wrap(name, text string) string {
	const indent, width = 23, 78
	var b strings.Builder
	head := "  " + name
	if len(head) < indent-1 {
		head += strings.Repeat(" ", indent-len(head))
	} else {
		head += "  "
	}
	col := len([]rune(head))
	b.WriteString(head)
	for i, w := range strings.Fields(text) {
		n := len([]rune(w))
		if i > 0 && col+1+n > width {
			b.WriteString("\n" + strings.Repeat(" ", indent))
			col = indent
		} else if i > 0 {
			b.WriteString(" ")
			col++
		}
		b.WriteString(w)
		col += n
	}
	b.WriteString("\n")
	return b.String()
}
