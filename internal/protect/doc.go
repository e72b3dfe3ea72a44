// Package protect owns adopting a user's own application — tables,
// buckets and functions pilotlight did not create — for disaster
// recovery. It owns the plan: MakePlan turns an inventory (package
// inventory: what the primary region holds, and what blocks DR) into a
// reviewable plan — steps, the fencing tier and what it promises, the
// CloudFormation it will apply — that changes nothing, identified by its
// hash, which apply must be given; and it keeps the applied plans, which
// check, status and every failback's drain read. Package apply carries a
// plan out on the lab or on AWS, and takes it back.
//
// The fencing tiers, weakest first, and what each may promise:
//
//   - routing only: traffic moves; RPO is not bounded by pilotlight and a
//     failback may lose writes the old region acknowledged;
//   - kill switch: the fenced side's functions get reserved concurrency 0
//     and their event-source mappings are disabled; writes already in
//     flight, and writers outside those functions, are not stopped;
//   - epoch guard: every write goes through the guard package (the lease
//     check and (region, epoch) condition pilotlight's own service uses):
//     no split brain, and no acknowledged write lost on failback.
package protect
