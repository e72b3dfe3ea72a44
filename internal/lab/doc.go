// Package lab owns the local two-region lab: it obtains and caches its
// servers (Amazon DynamoDB Local, versitygw), runs one of each per region
// behind an in-process Toxiproxy proxy, provisions the protected table, the
// control tables and the versioned buckets, replicates tables and objects
// between the regions the way global tables and S3 replication do (with lag,
// pause and resume), injects faults, and records its state in a directory so
// that a later `pilotlight lab` command can find, control or stop it.
//
// The lab stand-ins exist only here. Nothing outside this package may depend
// on the lab being the target: other packages see regions through endpoints
// and credentials, exactly as on AWS.
package lab
