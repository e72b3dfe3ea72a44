package inventory

import (
	"fmt"
	"io"
	"strings"
)

// WriteInventory prints a scan: each resource, what it is, and its
// preflight.
func WriteInventory(w io.Writer, inv Inventory) {
	fmt.Fprintf(w, "Scanned %s (to protect into %s), %s\n\n", inv.Primary, inv.DR, inv.Selector)
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
