// Package target owns where pilotlight acts, as one interface and the plain
// data it speaks in: Target (a deployment, its faults, its traffic), the
// Observation and Health it reports, the OutageProfile a drill holds it to.
// Its two adapters live in packages of their own: labtarget (a running
// lab) and awstarget (a deployment in an AWS account). cmd/pilotlight
// connects one of them once; nothing else asks which kind it has, but for
// output only one kind can give (the lab's servers, AWS's control plane),
// read through optional interfaces checked where they are printed.
//
// It must not hold failover, drill or deploy logic: a Target supplies
// clients, a controller built with failover.New, the fault and the way
// clients reach the service; the packages that own the logic use them.
package target
