package protect

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

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
