// Package control owns the regional control table: the active record
// {active_region, epoch, since} that fences writes, and the failover journal
// (run#<epoch> / phase rows). The table is per region and never replicated:
// each region decides from its own record, and a region that cannot reach
// its own control table accepts no writes.
//
// It does not decide anything: the failover controller decides, the orders
// service obeys, the health check reports.
package control
