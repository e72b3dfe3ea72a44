package main

import (
	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/target"
	"github.com/pilotlight/pilotlight/internal/target/awstarget"
	"github.com/pilotlight/pilotlight/internal/target/labtarget"
)

// resolveTarget reads settings and connects to the target through
// g.connect; every command then works on the Target, so each can be driven
// by a fake one.
func resolveTarget(g *globals, cmd *cobra.Command) (target.Target, error) {
	s, err := g.settings(cmd)
	if err != nil {
		return nil, err
	}
	return g.connect(cmd, s)
}

// connectTarget connects to the lab or to AWS: the one place the program
// chooses.
func connectTarget(cmd *cobra.Command, s config.Settings) (target.Target, error) {
	if s.Target == config.TargetAWS {
		return awstarget.Connect(cmd.Context(), s)
	}
	return labtarget.Connect(s.LabDir)
}
