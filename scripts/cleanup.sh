#!/usr/bin/env bash
# Remove the AWS deployment: empty the versioned buckets, delete the stacks
# in reverse order, delete the artifact buckets, report what is left.
#   scripts/cleanup.sh --dry-run
#   scripts/cleanup.sh --yes
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build
exec bin/pilotlight cleanup "$@"
