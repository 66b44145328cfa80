#!/usr/bin/env bash
# The one command that reproduces the HTTP comparison table (see bench/README.md):
#   bench/http/run.sh [--quick] [--servers eddy,hyper,std,aiohttp] [--scenarios ...]
# Settings also come from the environment: SERVERS, SCENARIOS, ROUNDS, DURATION,
# WARMUP, WORKERS. The work is in run.py (Python 3.11 stdlib only).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 bench/http/run.py "$@"
