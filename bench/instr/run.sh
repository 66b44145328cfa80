#!/bin/sh
# Instructions, system calls and memory per request, counted (see bench/README.md).
# Settings come from the environment (SERVERS, SCENARIOS, MEASURES, N1, N2, CONNS, IDLE)
# or flags: bench/instr/run.sh --help
exec python3 "$(dirname "$0")/instr.py" "$@"
