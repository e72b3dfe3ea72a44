// Package inventory owns what protect finds in a user's primary region:
// Scan lists the tables, buckets and functions a selector picks (never
// pilotlight's own), reads what their DR copies depend on (keys, indexes,
// streams, capacity and its auto scaling, encryption, versioning,
// replication rules, runtimes, URLs, event sources), and runs a preflight
// on each: what blocks or limits its DR copy, with the fix. It changes
// nothing.
package inventory
