// Package replication holds what the lab's two replicators share: the
// atomic writes of their positions and the bound on one call to a region
// (their status per direction is region.ReplicationStatus). The
// replicators are its subpackages: tables (the stand-in for DynamoDB
// global tables) and objects (the stand-in for S3 replication).
//
// It must not know regions, faults or the lab: a replicator is given its
// regions' clients and a way to ask whether a region is cut off.
package replication
