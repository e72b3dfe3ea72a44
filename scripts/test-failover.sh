#!/usr/bin/env bash
# Run a failover drill against the AWS deployment: the outage switch takes
# the primary region's functions down, the DR region takes over, the switch
# is taken off (also on Ctrl-C), and pilotlight fails back with zero loss.
# Keeps the report under .pilotlight/reports/ (`pilotlight history` lists
# it). Extra flags go to `pilotlight drill`.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build
exec bin/pilotlight --target aws drill "$@"
