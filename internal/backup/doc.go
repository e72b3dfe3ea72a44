// Package backup owns snapshots of the protected table: writing them in the
// DynamoDB export format (gzipped DynamoDB-JSON lines) with a manifest into
// the backup bucket, listing them, retention, restoring one into a named
// table in either region, and restore testing (restore into a scratch table,
// check it against the manifest, drop it). On AWS it also drives native
// on-demand backups and point-in-time recovery.
package backup
