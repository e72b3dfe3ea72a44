package protect

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteInventory prints a scan: each resource, what it is, and its
// preflight.
func WriteInventory(w io.Writer, inv Inventory) {
	fmt.Fprintf(w, "Scanned %s (to protect into %s), %s\n\n", inv.Primary, inv.DR, describe(inv.Selector))
	findings := func(fs []Finding) {
		for _, f := range fs {
			fmt.Fprintf(w, "    %-7s %s\n", f.Severity, f.Problem)
			if f.Fix != "" {
				fmt.Fprintf(w, "            fix: %s\n", f.Fix)
			}
		}
	}
	for _, t := range inv.Tables {
		var keys []string
		for _, k := range t.Keys {
			keys = append(keys, fmt.Sprintf("%s %s (%s)", strings.ToLower(k.Role), k.Name, k.Type))
		}
		fmt.Fprintf(w, "  table    %s — %s; %d index(es); %s; stream %s; %d items\n", t.Name, strings.Join(keys, ", "), len(t.Indexes), strings.ToLower(t.Billing), orDefault(t.Stream, "off"), t.Items)
		findings(t.Findings)
	}
	for _, b := range inv.Buckets {
		fmt.Fprintf(w, "  bucket   %s — versioning %s; encryption %s; %d lifecycle rule(s)\n", b.Name, orDefault(b.Versioning, "off"), orDefault(b.Encryption, "none"), b.Lifecycle)
		findings(b.Findings)
	}
	for _, f := range inv.Functions {
		fmt.Fprintf(w, "  function %s — %s %s, %d MB; url %s; %d event source(s)\n", f.Name, orDefault(f.Runtime, "image"), f.Architecture, f.Memory, orDefault(f.URLAuth, "none"), len(f.Sources))
		findings(f.Findings)
	}
	for _, s := range inv.Skipped {
		fmt.Fprintf(w, "  skipped  %s\n", s)
	}
	if n := inv.Blockers(); n > 0 {
		fmt.Fprintf(w, "\n%d blocker(s): fix them, then scan again.\n", n)
	} else {
		fmt.Fprintf(w, "\nNo blockers: `pilotlight protect plan` with the same filter writes the plan.\n")
	}
}

// WriteText prints the plan for review.
func (p Plan) WriteText(w io.Writer) {
	fmt.Fprintf(w, "Plan %s — protect %s: %s → %s\n\n", p.Hash, p.App, p.Primary, p.DR)
	fmt.Fprintf(w, "Fencing tier: %s\n  promises: %s\n", p.Tier, p.Promise)
	if p.Stated != "" {
		fmt.Fprintf(w, "  rests on: %s\n", p.Stated)
	}
	fmt.Fprintf(w, "\nSteps (✱ changes a resource of yours):\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, s := range p.Steps {
		mark := " "
		if s.Yours {
			mark = "✱"
		}
		fmt.Fprintf(tw, "  %2d %s\t%s\t%s\t%s\n", i+1, mark, s.Resource, s.Region, s.Action)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nUndone by `pilotlight protect remove` (your resources and data are never deleted):\n")
	for i, s := range p.Steps {
		fmt.Fprintf(w, "  %2d %s\n", i+1, s.Undo)
	}
	names := make([]string, 0, len(p.Templates))
	for n := range p.Templates {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "\nStacks: %s (their templates are in the JSON plan: --output json)\n", strings.Join(names, ", "))
	fmt.Fprintf(w, "Approve it by its hash: %s\n", p.Hash)
}
