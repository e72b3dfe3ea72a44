#!/usr/bin/env bash
# Deploy pilotlight to AWS: the DR region, then the primary (CloudFormation).
# A thin wrapper over the CLI; every flag is passed on, e.g.
#   scripts/deploy.sh --dry-run
#   scripts/deploy.sh --detection fast --email ops@example.com
# Regions and credentials come from .env (PILOTLIGHT_PRIMARY_REGION, PILOTLIGHT_DR_REGION,
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build
exec bin/pilotlight deploy "$@"
