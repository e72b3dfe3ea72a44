// Package target owns where pilotlight acts: a running lab or a deployment
// on AWS, behind one interface. The commands and the drill take a Target;
// cmd/pilotlight builds it once (Lab or ConnectAWS) and nothing else asks
// which kind it has, but for output only one kind can give (the lab's
// servers, AWS's control plane).
//
// It must not hold failover, drill or deploy logic: a Target supplies
// clients, a controller built with failover.New, the fault and the way
// clients reach the service; the packages that own the logic use them.
package target
