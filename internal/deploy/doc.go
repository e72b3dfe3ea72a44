// Package deploy owns packaging for AWS: building each function as a
// `bootstrap` for provided.al2023 and zipping it reproducibly (same input,
// same bytes), so an unchanged function never shows as a change. Stack
// deployment and cleanup will live here too; nothing here talks to AWS yet.
package deploy
