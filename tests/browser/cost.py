#!/usr/bin/env python3
"""What the live page costs the server: CPU time per request with and without a viewer.

    python3 tests/browser/cost.py [--rounds 6] [--seconds 5] [--viewer-seconds 300]

Not part of CI: it builds the greeting example in release and runs for about two minutes.
It starts two release greeting servers on CPU 0, one plain and one with `--debug-page`,
and loads them like bench/http's keep-alive scenario (wrk, one thread, 64 connections,
on CPU 1). It measures the page's cost two ways.

1. Alternating runs, as the issue asks: in each round, three wrk runs of the same length,
   `plain` (no page), `idle` (page on, nobody watching) and `viewer` (one viewer connected
   to /_eddy/events); CPU per request is the server's utime + stime over the run
   (/proc/PID/stat) divided by the requests wrk completed. Medians of the rounds, and of
   the per-round ratios (a round's runs are seconds apart, so a ratio cancels the drift
   between rounds). On a shared 2-core VM a run drifts by 10-20 %, more than the effect.

2. The viewer's work, counted directly: what one second of a viewer asks of the server
   (what /events sends: stats twice, a 1 s timeline and the task table once),
   repeated `--viewer-seconds` times back to back right after a load burst, so that every
   timeline is a loaded one, cut at the recorder window's bound (its 4,000 newest polls).
   CPU per viewer-second, divided by the CPU per second the server spends under the
   keep-alive load, is the rise in CPU per request a viewer causes. The burst's timeline
   is asked for with ?ms=10000 so it reaches back into the load; each is an HTTP request
   (a few µs more than an SSE event), so this figure errs high.

The viewer in (1) is `curl -N` reading the event stream (on CPU 1, beside wrk): it asks
the server for exactly what the page asks for (the page draws in the browser), so it is a
fair stand-in for the page's server-side cost. Only processes this script started are
signalled, by PID.
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


def wrk(port: int, seconds: int, label: str = 'warm-up') -> int:
    """One keep-alive wrk run; returns the requests it completed."""
    cmd = ['timeout', str(seconds + 30), 'taskset', '-c', '1', 'wrk', '-t1', f'-c{CONNECTIONS}',
           f'-d{seconds}s', f'http://127.0.0.1:{port}/bench']
    out = subprocess.run(cmd, capture_output=True, text=True)
    found = re.search(r'(\d+) requests in', out.stdout)
    if out.returncode != 0 or not found:
        fail(f'{label}: wrk failed ({out.returncode}): {out.stdout}{out.stderr}')
    if 'Non-2xx' in out.stdout or 'Socket errors' in out.stdout:
        fail(f'{label}: wrk saw errors: {out.stdout}')
    return int(found.group(1))


def measure(proc: subprocess.Popen, port: int, seconds: int, label: str) -> tuple[float, float]:
    """One wrk run: (server CPU µs per request, server CPU seconds per second)."""
    before, start = cpu_ticks(proc.pid), time.monotonic()
    requests = wrk(port, seconds, label)
    after, took = cpu_ticks(proc.pid), time.monotonic() - start
    cpu = (after - before) / CLK_TCK
    return cpu * 1e6 / requests, cpu / took


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 5 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def viewer_seconds(port: int, count: int) -> tuple[int, int]:
    """Asks for `count` viewer-seconds of events as plain requests, on one keep-alive
    connection; returns (requests, bytes received)."""
    base = f'http://127.0.0.1:{port}/_eddy'
    one_second = [f'{base}/stats.json', f'{base}/stats.json', f'{base}/timeline.json?ms=10000',
                  f'{base}/tasks.json']
    urls = one_second * count
    args = [arg for url in urls for arg in ('-o', '/dev/null', url)]
    out = subprocess.run(['taskset', '-c', '1', 'curl', '-s', '-w', '%{http_code} %{size_download}\\n', *args],
                         capture_output=True, text=True)
    codes = [line.split() for line in out.stdout.splitlines()]
    if out.returncode != 0 or len(codes) != len(urls) or any(code != '200' for code, _ in codes):
        fail(f'the viewer-seconds requests failed: curl exit {out.returncode}, '
             f'{sum(1 for code, _ in codes if code == "200")} of {len(urls)} answered 200')
    return len(urls), sum(int(size) for _, size in codes)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    p.add_argument('--rounds', type=int, default=6)
    p.add_argument('--seconds', type=int, default=5, help='length of each measured wrk run')
    p.add_argument('--viewer-seconds', type=int, default=300, help='viewer-seconds counted in (2)')
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
    results: dict[str, list[float]] = {'plain': [], 'idle': [], 'viewer': []}
    load_cpu: list[float] = []  # the paged server's CPU seconds per second under load
    try:
        plain, plain_port = start_server(binary, [], logs / 'plain.log')
        started.append(plain)
        paged, paged_port = start_server(binary, ['--debug-page'], logs / 'page.log')
        started.append(paged)
        # Warm both up (page cache, allocator, branch predictors) before anything counts.
        wrk(plain_port, 2)
        wrk(paged_port, 2)
        print(f'(1) alternating runs, {args.rounds} rounds of {args.seconds} s each', flush=True)
        for round_no in range(args.rounds):
            results['plain'].append(measure(plain, plain_port, args.seconds, 'plain')[0])
            per_request, cpu_per_s = measure(paged, paged_port, args.seconds, 'idle')
            results['idle'].append(per_request)
            load_cpu.append(cpu_per_s)
            viewer = subprocess.Popen(['taskset', '-c', '1', 'curl', '-sN', '-o', '/dev/null',
                                       f'http://127.0.0.1:{paged_port}/_eddy/events'])
            started.append(viewer)
            time.sleep(1)  # connected and past the first burst of events
            if viewer.poll() is not None:
                fail('the viewer (curl -N /_eddy/events) exited at once: is the page on?')
            results['viewer'].append(measure(paged, paged_port, args.seconds, 'viewer')[0])
            stop(viewer)
            started.remove(viewer)
            print(f'  round {round_no + 1}: ' + ', '.join(f'{k} {v[-1]:.2f} µs/req' for k, v in results.items()),
                  flush=True)

        print(f'(2) {args.viewer_seconds} viewer-seconds of requests right after a 3 s load burst', flush=True)
        wrk(paged_port, 3)
        before = cpu_ticks(paged.pid)
        requests, received = viewer_seconds(paged_port, args.viewer_seconds)
        viewer_ticks = cpu_ticks(paged.pid) - before
    finally:
        for proc in started:
            stop(proc)

    med = {k: statistics.median(v) for k, v in results.items()}
    paired = lambda a, b: statistics.median(x / y for x, y in zip(results[a], results[b]))
    print(f'\n(1) server CPU per request, median of {args.rounds} rounds (wrk -t1 -c{CONNECTIONS} keep-alive):')
    for k, v in med.items():
        print(f'  {k:7} {v:.3f} µs   (rounds: {", ".join(f"{x:.2f}" for x in results[k])})')
    print(f'  page on, nobody watching: {100 * (med["idle"] / med["plain"] - 1):+.1f} % against plain '
          f'(median of ratios {100 * (paired("idle", "plain") - 1):+.1f} %)')
    print(f'  one viewer:               {100 * (med["viewer"] / med["idle"] - 1):+.1f} % against nobody watching '
          f'(median of ratios {100 * (paired("viewer", "idle") - 1):+.1f} %)')
    per_viewer_second = viewer_ticks / CLK_TCK / args.viewer_seconds
    load = statistics.median(load_cpu)
    print(f'(2) one viewer-second ({requests // args.viewer_seconds} requests, '
          f'{received / args.viewer_seconds / 1e3:.0f} kB of JSON) costs the server {per_viewer_second * 1e3:.2f} ms CPU;')
    print(f'    under the load it spends {load * 1e3:.0f} ms CPU per second, so one viewer raises CPU per request '
          f'by {100 * per_viewer_second / load:.2f} %')


if __name__ == '__main__':
    main()
