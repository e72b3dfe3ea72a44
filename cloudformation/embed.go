// Package cloudformation embeds pilotlight's stack templates, so the binary
// deploys without the source tree: dr-region.yaml (deployed first),
// primary-region.yaml, witness-region.yaml and global-resources.yaml (only
// with a hosted zone).
package cloudformation

import _ "embed"

// DR is the DR region's stack.
//
//go:embed dr-region.yaml
var DR []byte

// Primary is the primary region's stack.
//
//go:embed primary-region.yaml
var Primary []byte

// Global is the Route 53 stack.
//
//go:embed global-resources.yaml
var Global []byte

// Witness is the witness region's stack: one control table, the third
// record of the write lease.
//
//go:embed witness-region.yaml
var Witness []byte
