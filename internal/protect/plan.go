package protect

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pilotlight/pilotlight/internal/protect/inventory"
	"github.com/pilotlight/pilotlight/internal/region"
)

// CopyTag marks a DR copy apply made, with the ARN of the function it
// copies: remove deletes only a function that carries it, and apply never
// overwrites a function without it.
const CopyTag = "pilotlight:copy-of"

// Tier is how the application's writes are fenced on the side that lost
// the lease.
type Tier string

// The tiers, weakest first.
const (
	RoutingOnly Tier = "routing-only"
	KillSwitch  Tier = "kill-switch"
	EpochGuard  Tier = "epoch-guard"
)

var tierRank = map[Tier]int{RoutingOnly: 0, KillSwitch: 1, EpochGuard: 2}

// ParseTier reads a --tier value.
func ParseTier(s string) (Tier, error) {
	t := Tier(s)
	if _, ok := tierRank[t]; !ok {
		return "", fmt.Errorf("unknown fencing tier %q: use routing-only, kill-switch or epoch-guard", s)
	}
	return t, nil
}

// Promise is what the tier guarantees, and what it does not: printed by
// every plan, drill and report of the application, never more.
func (t Tier) Promise() string {
	switch t {
	case EpochGuard:
		return "no split brain (at most one region acknowledges writes at any time) and no acknowledged write lost on failback; RPO on failover is measured"
	case KillSwitch:
		return "the fenced region's functions are stopped (reserved concurrency 0, event-source mappings off): no new invocations there; writes in flight and writers outside these functions are not stopped, so split brain is possible for a moment and failback loss is not guaranteed zero"
	default:
		return "traffic moves to the healthy region; nothing stops the other region's writers: RPO is not bounded by pilotlight and a failback may lose writes the old region acknowledged"
	}
}

// Options are the choices a plan is made with.
type Options struct {
	// App names the stacks the plan adds (<App>-protect-<region>).
	App string
	// Tier is the tier asked for ("": the strongest the application allows).
	Tier Tier
	// Guarded names functions whose writes go through the guard package;
	// AllGuarded says every writer of the application's tables does (the
	// lab, which cannot list functions, takes the user's word for it and
	// the plan says so).
	Guarded    []string
	AllGuarded bool
	// ReplicaKeys are KMS keys in the DR region, by table or bucket name.
	ReplicaKeys map[string]string
	// ControlTable is the deployment's control table (every region's has
	// the same name): guarded functions are given it.
	ControlTable string
}

// guarded says whether a function's writes go through the guard package.
func (o Options) guarded(name string) bool { return o.AllGuarded || slices.Contains(o.Guarded, name) }

// Step is one change apply makes, in order.
type Step struct {
	Resource string `json:"resource"` // "table carts", "bucket media", "function api"
	Region   string `json:"region"`
	Action   string `json:"action"`
	// Yours: the step changes a resource of the user's (not one pilotlight
	// adds): reviewed with care.
	Yours bool   `json:"changes_your_resource"`
	Undo  string `json:"undo"` // what `protect remove` does about it
}

// Plan is a reviewable, written plan: it changes nothing, and apply takes
// it only by its Hash.
type Plan struct {
	App       string              `json:"app"`
	Primary   string              `json:"primary"`
	DR        string              `json:"dr"`
	Tier      Tier                `json:"tier"`
	Promise   string              `json:"promise"`
	Stated    string              `json:"stated,omitempty"` // what the tier rests on that pilotlight could not check
	Inventory inventory.Inventory `json:"inventory"`
	// Guarded are the functions apply gives the guard's variables (the
	// control table, the lease): at the epoch-guard tier, the guarded ones.
	Guarded      []string `json:"guarded,omitempty"`
	ControlTable string   `json:"control_table,omitempty"`
	// ReplicaKeys are the DR region's KMS keys by table or bucket name
	// (key ARNs, not secrets).
	ReplicaKeys map[string]string          `json:"replica_keys,omitempty"`
	Steps       []Step                     `json:"steps"`
	Templates   map[string]json.RawMessage `json:"templates"` // stack name → CloudFormation
	Hash        string                     `json:"hash"`
}

var appName = regexp.MustCompile(`^[a-z][a-z0-9-]{1,30}$`)

// MakePlan turns an inventory into a plan. It refuses an inventory with
// blockers a replica key does not resolve, and a tier the application does
// not allow.
func MakePlan(inv inventory.Inventory, o Options) (Plan, error) {
	if !appName.MatchString(o.App) {
		return Plan{}, fmt.Errorf("protect plan: app name %q: use 2–31 lower-case letters, digits and dashes, starting with a letter (it names the stacks)", o.App)
	}
	if len(inv.Tables)+len(inv.Buckets)+len(inv.Functions) == 0 {
		return Plan{}, fmt.Errorf("protect plan: the scan found nothing to protect with %s: check the filter", inv.Selector)
	}
	if msgs := unresolved(inv, o); len(msgs) > 0 {
		return Plan{}, fmt.Errorf("protect plan: %d blocker(s) to fix first:\n  %s", len(msgs), strings.Join(msgs, "\n  "))
	}
	ceiling, stated, err := allowedTier(inv, o)
	if err != nil {
		return Plan{}, err
	}
	tier := o.Tier
	if tier == "" {
		tier = ceiling
	}
	if tierRank[tier] > tierRank[ceiling] {
		return Plan{}, fmt.Errorf("protect plan: tier %s asked, but the application allows %s at most: %s", tier, ceiling, whyCeiling(inv, o, ceiling))
	}
	if tier != EpochGuard {
		stated = ""
	}
	p := Plan{App: o.App, Primary: inv.Primary, DR: inv.DR, Tier: tier, Promise: tier.Promise(), Stated: stated, Inventory: inv}
	for name, k := range o.ReplicaKeys {
		if p.ReplicaKeys == nil {
			p.ReplicaKeys = map[string]string{}
		}
		p.ReplicaKeys[name] = k
	}
	if tier == EpochGuard {
		for _, f := range inv.Functions {
			if o.guarded(f.Name) {
				p.Guarded = append(p.Guarded, f.Name)
			}
		}
		if len(p.Guarded) > 0 {
			p.ControlTable = o.ControlTable
		}
	}
	p.Steps = steps(inv, o, tier)
	if p.Templates, err = templates(inv, o); err != nil {
		return Plan{}, err
	}
	p.Hash = p.hash()
	return p, nil
}

// hash is the plan's identity: the SHA-256 of its JSON without the hash.
func (p Plan) hash() string {
	p.Hash = ""
	b, _ := json.Marshal(p)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

// Verify checks that a plan read back (from a file a person reviewed) is
// the plan its hash names, and that hash is the approved one.
func (p Plan) Verify(approved string) error {
	if got := p.hash(); got != p.Hash {
		return fmt.Errorf("the plan was changed after it was made (its hash is %s, its content hashes to %s): make it again with `pilotlight protect plan`", p.Hash, got)
	}
	if approved != p.Hash {
		return fmt.Errorf("approved hash %q is not this plan's (%s): review the plan and pass --approve %s", approved, p.Hash, p.Hash)
	}
	return nil
}

// unresolved lists the blockers left once replica keys are given.
func unresolved(inv inventory.Inventory, o Options) []string {
	var out []string
	add := func(kind, name string, fs []inventory.Finding) {
		for _, f := range fs {
			if f.Severity != inventory.Blocker {
				continue
			}
			if f.KeyFixes && o.ReplicaKeys[name] != "" {
				continue
			}
			out = append(out, fmt.Sprintf("%s %s: %s — %s", kind, name, f.Problem, f.Fix))
		}
	}
	for _, t := range inv.Tables {
		add("table", t.Name, t.Findings)
	}
	for _, b := range inv.Buckets {
		add("bucket", b.Name, b.Findings)
	}
	for _, f := range inv.Functions {
		add("function", f.Name, f.Findings)
	}
	return out
}

// allowedTier is the strongest tier the application allows, and what it
// rests on that could not be checked.
func allowedTier(inv inventory.Inventory, o Options) (Tier, string, error) {
	for _, g := range o.Guarded {
		if !slices.ContainsFunc(inv.Functions, func(f inventory.Function) bool { return f.Name == g }) && len(inv.Functions) > 0 {
			return "", "", fmt.Errorf("protect plan: --guarded %s: no such function in the scan", g)
		}
	}
	allGuarded := len(inv.Functions) > 0
	for _, f := range inv.Functions {
		if !slices.Contains(o.Guarded, f.Name) {
			allGuarded = false
		}
	}
	switch {
	case allGuarded || o.AllGuarded:
		stated := "every writer of the protected tables uses the guard package (you said so; pilotlight can check only that the functions it found are given the control table)"
		if len(inv.Functions) == 0 {
			stated = "every writer of the protected tables uses the guard package (you said so: this target cannot list functions)"
		}
		return EpochGuard, stated, nil
	case len(inv.Functions) > 0:
		return KillSwitch, "", nil
	}
	return RoutingOnly, "", nil
}

func whyCeiling(inv inventory.Inventory, o Options, ceiling Tier) string {
	switch ceiling {
	case KillSwitch:
		var un []string
		for _, f := range inv.Functions {
			if !slices.Contains(o.Guarded, f.Name) {
				un = append(un, f.Name)
			}
		}
		return "these functions do not write through the guard package: " + strings.Join(un, ", ") + " (use it in them and name them with --guarded)"
	default:
		return "no function was found to stop or guard (name the writers' functions with --name, or, if every writer uses the guard package, say so with --all-guarded)"
	}
}

// ReplicaName is the DR bucket of a user's bucket: its name with the DR
// region, within S3's 63 characters.
func ReplicaName(bucket, dr string) string {
	n := bucket + "-" + dr
	if len(n) > 63 {
		sum := sha256.Sum256([]byte(bucket))
		n = bucket[:63-len(dr)-10] + "-" + hex.EncodeToString(sum[:])[:8] + "-" + dr
	}
	return n
}

func steps(inv inventory.Inventory, o Options, tier Tier) []Step {
	var s []Step
	p, dr := inv.Primary, inv.DR
	for _, t := range inv.Tables {
		r := "table " + t.Name
		if t.Stream == "" {
			s = append(s, Step{r, p, "enable its stream (NEW_AND_OLD_IMAGES)", true, "left on: turning it off would cut the replica"})
		}
		if !slices.Contains(t.Replicas, dr) {
			s = append(s, Step{r, p, "add a replica in " + dr + " (UpdateTable) and wait until it is ACTIVE; the items already there are copied by DynamoDB", true,
				"with --delete-replicas deletes the replica in " + dr + " and its copy of the data (kept otherwise); the table in " + p + " is not touched"})
		}
		s = append(s, Step{r, p, "import it into stack " + StackName(o.App, p) + " as AWS::DynamoDB::GlobalTable with DeletionPolicy Retain (never a type change in place)", false,
			"the stack is deleted; the table is retained"})
	}
	for _, b := range inv.Buckets {
		r := "bucket " + b.Name
		if b.Versioning != "Enabled" {
			s = append(s, Step{r, p, "enable versioning", true, "left enabled (S3 can only suspend it)"})
		}
		s = append(s, Step{r, dr, "create the replica bucket " + ReplicaName(b.Name, dr) + " (versioned) in stack " + StackName(o.App, dr), false, "deleted with its objects only if you pass --delete-replicas; kept otherwise"})
		s = append(s, Step{r, p, "add replication rule pilotlight-" + o.App + " (all objects, delete markers too) to " + ReplicaName(b.Name, dr) + ", keeping its other rules; role in stack " + StackName(o.App, p), true, "removes pilotlight's rule only"})
		s = append(s, Step{r, p, "copy the objects already there (S3 Batch Replication on AWS, as role BatchReplicationRole; the lab's replicator backfills)", false, "nothing: the copies are the replica's"})
	}
	for _, f := range inv.Functions {
		r := "function " + f.Name
		idle := "no reserved concurrency: idle, it costs nothing, and nothing routes to it before a failover"
		switch {
		case tier == KillSwitch:
			idle = "reserved concurrency 0 until a failover (the pilot light)"
		case tier == EpochGuard && o.guarded(f.Name):
			idle = "no reserved concurrency: its guard refuses writes until " + dr + " holds the lease"
		}
		s = append(s, Step{r, dr, "create its DR copy (Lambda API, tagged " + CopyTag + "): same code, runtime, handler, memory, role, tags and environment (its values copied at apply, never written into the plan), " + idle + map[bool]string{true: ", and a function URL (" + f.URLAuth + ")", false: ""}[f.URL != ""], false, "the DR copy is deleted"})
		switch {
		case tier == EpochGuard && o.guarded(f.Name):
			s = append(s, Step{r, p, "set PILOTLIGHT_CONTROL_TABLE=" + o.ControlTable + " and the lease (PILOTLIGHT_LEASE_*) on both copies: its guard checks the lease before every write", true, "the variables are removed"})
		case tier == KillSwitch:
			s = append(s, Step{r, p, "on failover: reserved concurrency 0 and its event-source mappings disabled in the fenced region (restored on failback)", true, "concurrency and mappings as they were before"})
		}
	}
	return s
}

func StackName(app, r string) string { return region.Names{App: app}.ProtectStack(r) }
