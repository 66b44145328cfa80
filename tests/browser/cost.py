#!/usr/bin/env python3
"""What the live page costs the server: CPU time per request with and without a viewer.

    python3 tests/browser/cost.py [--rounds 5] [--seconds 6]

Not part of CI (it builds in release and runs for about two minutes). It starts two
release greeting servers on CPU 0, one plain and one with `--debug-page`, and runs
bench/http's keep-alive load (wrk, one thread, 64 connections, CPU 1) at them in
alternating rounds of three configurations:

  plain     the greeting server without the page
  idle      the page on, nobody watching
  viewer    the page on, one viewer connected to /_eddy/events

The viewer is `curl -N` reading the event stream (on CPU 1, beside wrk): it asks the
server for exactly what the page asks for (the page's JSON requests are the same
endpoints, and its drawing happens in the browser), so it is a fair stand-in for the
page's server-side cost. CPU per request is the server's utime + stime over the measured
run (/proc/PID/stat) divided by the requests wrk completed; alternating the three in each
round spreads the VM's drift over all of them, and the figure is the median of the
rounds. Only processes this script started are signalled, by PID.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLK_TCK = os.sysconf('SC_CLK_TCK')
# bench/http's keep-alive scenario: 64 connections, one request in flight each.
CONNECTIONS = 64


def fail(msg: str) -> None:
    print(f'cost: {msg}', file=sys.stderr)
    sys.exit(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def cpu_ticks(pid: int) -> int:
    """utime + stime of the whole process (fields 14 and 15 of /proc/PID/stat)."""
    rest = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return int(rest[11]) + int(rest[12])


def start_server(binary: Path, extra: list[str], log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    # taskset execs the server, so the PID is the server's own.
    cmd = ['taskset', '-c', '0', str(binary), '--addr', f'127.0.0.1:{port}', *extra]
    with open(log, 'wb') as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=dict(os.environ, RUST_LOG='warn,eddy_http::server=info'))
    deadline = time.monotonic() + 30
    while b'listening on' not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            fail(f'{" ".join(cmd)} did not start: {log.read_text(errors="replace")[-1000:]}')
        time.sleep(0.05)
    return proc, port


def wrk(port: int, seconds: int) -> int:
    """One keep-alive wrk run; returns the requests it completed."""
    cmd = ['timeout', str(seconds + 30), 'taskset', '-c', '1', 'wrk', '-t1', f'-c{CONNECTIONS}',
           f'-d{seconds}s', f'http://127.0.0.1:{port}/bench']
    out = subprocess.run(cmd, capture_output=True, text=True)
    found = re.search(r'(\d+) requests in', out.stdout)
    if out.returncode != 0 or not found:
        fail(f'wrk failed ({out.returncode}): {out.stdout}{out.stderr}')
    if 'Non-2xx' in out.stdout or 'Socket errors' in out.stdout:
        fail(f'wrk saw errors: {out.stdout}')
    return int(found.group(1))


def measure(proc: subprocess.Popen, port: int, seconds: int) -> float:
    """Server CPU microseconds per request over one wrk run."""
    before = cpu_ticks(proc.pid)
    requests = wrk(port, seconds)
    after = cpu_ticks(proc.pid)
    return (after - before) / CLK_TCK * 1e6 / requests


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--seconds', type=int, default=6, help='length of each measured wrk run')
    args = p.parse_args()
    for tool in ('wrk', 'curl', 'taskset'):
        if shutil.which(tool) is None:
            fail(f'{tool} is missing (apt-get install -y {tool if tool != "taskset" else "util-linux"})')

    subprocess.run(['cargo', 'build', '--quiet', '--release', '--example', 'greeting'], cwd=ROOT, check=True)
    target = Path(os.environ.get('CARGO_TARGET_DIR', ROOT / 'target'))
    binary = target / 'release' / 'examples' / 'greeting'
    logs = Path('/tmp/eddy-page-cost')
    logs.mkdir(exist_ok=True)

    started: list[subprocess.Popen] = []
    try:
        plain, plain_port = start_server(binary, [], logs / 'plain.log')
        started.append(plain)
        paged, paged_port = start_server(binary, ['--debug-page'], logs / 'page.log')
        started.append(paged)
        # Warm both up (page cache, allocator, branch predictors) before anything counts.
        wrk(plain_port, 2)
        wrk(paged_port, 2)
        results: dict[str, list[float]] = {'plain': [], 'idle': [], 'viewer': []}
        for round_no in range(args.rounds):
            results['plain'].append(measure(plain, plain_port, args.seconds))
            results['idle'].append(measure(paged, paged_port, args.seconds))
            viewer = subprocess.Popen(['taskset', '-c', '1', 'curl', '-sN', '-o', '/dev/null',
                                       f'http://127.0.0.1:{paged_port}/_eddy/events'])
            started.append(viewer)
            time.sleep(1)  # connected and past the first burst of events
            if viewer.poll() is not None:
                fail('the viewer (curl -N /_eddy/events) exited at once: is the page on?')
            results['viewer'].append(measure(paged, paged_port, args.seconds))
            viewer.send_signal(signal.SIGTERM)
            viewer.wait()
            started.remove(viewer)
            print(f'round {round_no + 1}: ' + ', '.join(f'{k} {v[-1]:.2f} µs/req' for k, v in results.items()),
                  flush=True)
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    med = {k: statistics.median(v) for k, v in results.items()}
    print(f'\nserver CPU per request, median of {args.rounds} rounds of {args.seconds} s '
          f'(wrk -t1 -c{CONNECTIONS} keep-alive):')
    for k, v in med.items():
        print(f'  {k:7} {v:.3f} µs   (rounds: {", ".join(f"{x:.2f}" for x in results[k])})')
    print(f'  page on, nobody watching: {100 * (med["idle"] / med["plain"] - 1):+.1f} % against plain')
    print(f'  one viewer:               {100 * (med["viewer"] / med["idle"] - 1):+.1f} % against nobody watching')


if __name__ == '__main__':
    main()
