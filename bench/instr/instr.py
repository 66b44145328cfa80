#!/usr/bin/env python3
"""Counted, not timed: instructions, system calls and memory per request.

Run it through `bench/instr/run.sh` (see bench/README.md). Python 3.11 stdlib,
plus valgrind and strace.

On a shared two-core VM with no hardware counters, timings drift 10–30 % run
to run. Counts do not. For each server and scenario this harness runs the
server twice under `valgrind --tool=callgrind`, once driven with N1 requests
and once with N2, and reports the **marginal** figure

    (Ir(N2) − Ir(N1)) / (N2 − N1)

user-space instructions per request: start-up, the first connections and
shutdown are in both runs and cancel. System calls per request are the same
difference taken from `strace -f -c` (counts, never times). Memory per idle
connection is (RSS after − RSS before) / IDLE for IDLE keep-alive connections
that each served one request, read from /proc/PID/status with the server
running natively.

The load is deterministic: one request at a time, round-robin over CONNS
connections, each response read in full before the next request is sent, so
every request is one wake-up of the server at low concurrency:

- keepalive: CONNS kept-alive connections, one request per write;
- pipelined: CONNS connections, 16 requests per write (one batch in flight);
- close:     a new connection per request, `Connection: close`, read to EOF.

glibc's `rep movsb`/`rep stosb` paths for memcpy/memset are switched off with
GLIBC_TUNABLES (thresholds set out of reach) in every run, because valgrind
counts each byte a `rep` instruction moves as one instruction: a 4 KiB memset
would count 4,096. The SIMD loops that replace them are what the CPU runs for
short copies anyway.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / 'http'))
import chart  # noqa: E402  (bench/http/chart.py)
import run as harness  # noqa: E402  (bench/http/run.py: builds, machine info)

ROOT, BENCH, RESULTS = harness.ROOT, harness.BENCH, harness.RESULTS
ALL_SERVERS = ['floor', 'eddy', 'hyper', 'tokio-httparse', 'eddy-norec', 'eddy-nohooks', 'eddy-deferred']
ALL_SCENARIOS = ['keepalive', 'pipelined', 'close']
ALL_MEASURES = ['instr', 'syscalls', 'memory']
PIPELINE_DEPTH = 16
# Functions listed per server and scenario in the result file's profile section.
PROFILE_TOP = 15
# Far above any copy a server makes: memcpy/memset never take the `rep` path.
TUNABLES = ('glibc.cpu.x86_rep_movsb_threshold=0x7fffffffffffffff:'
            'glibc.cpu.x86_rep_stosb_threshold=0x7fffffffffffffff')
ABOUT = {
    'keepalive': 'keep-alive, {c} conns',
    'pipelined': f'pipelined ×{PIPELINE_DEPTH}, {{c}} conns',
    'close': 'new connection per request',
}
say, fail = harness.say, harness.fail


# ---------------------------------------------------------------- settings --

def parse_settings() -> argparse.Namespace:
    env = os.environ
    p = argparse.ArgumentParser(description='Instructions, system calls and memory per request.')
    p.add_argument('--servers', default=env.get('SERVERS', ','.join(ALL_SERVERS)),
                   help='comma list from ' + ','.join(ALL_SERVERS) + ' (env SERVERS)')
    p.add_argument('--scenarios', default=env.get('SCENARIOS', ','.join(ALL_SCENARIOS)),
                   help='comma list from ' + ','.join(ALL_SCENARIOS) + ' (env SCENARIOS)')
    p.add_argument('--measures', default=env.get('MEASURES', ','.join(ALL_MEASURES)),
                   help='comma list from ' + ','.join(ALL_MEASURES) + ' (env MEASURES)')
    p.add_argument('--n1', type=int, default=int(env.get('N1', '2000')), help='requests in the short run (env N1)')
    p.add_argument('--n2', type=int, default=int(env.get('N2', '12000')), help='requests in the long run (env N2)')
    p.add_argument('--conns', type=int, default=int(env.get('CONNS', '8')), help='connections (env CONNS)')
    p.add_argument('--idle', type=int, default=int(env.get('IDLE', '10000')),
                   help='idle connections for the memory figure (env IDLE)')
    p.add_argument('--repeat', type=int, default=int(env.get('REPEAT', '1')),
                   help='take each instruction and system-call count this many times (env REPEAT); '
                        'the table shows the median and the range')
    p.add_argument('--no-tunables', action='store_true', default=env.get('NO_TUNABLES') == '1',
                   help='leave glibc\'s rep movsb/stosb on (env NO_TUNABLES=1), to see what they cost')
    s = p.parse_args()
    s.servers = harness.split_choice(s.servers, ALL_SERVERS, 'server')
    s.scenarios = harness.split_choice(s.scenarios, ALL_SCENARIOS, 'scenario')
    s.measures = harness.split_choice(s.measures, ALL_MEASURES, 'measure')
    if not 0 < s.n1 < s.n2 or s.conns < 1 or s.idle < 1 or s.repeat < 1:
        fail('need 0 < N1 < N2, CONNS >= 1, IDLE >= 1 and REPEAT >= 1')
    if 'pipelined' in s.scenarios and (s.n1 % PIPELINE_DEPTH or s.n2 % PIPELINE_DEPTH):
        fail(f'N1 and N2 must be multiples of {PIPELINE_DEPTH} for the pipelined scenario')
    return s


# ------------------------------------------------------------------ client --

class Conn:
    """A blocking client connection that reads whole responses (Content-Length)."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b''

    def responses(self, count: int) -> None:
        """Reads exactly `count` responses; fails on anything but 200."""
        for _ in range(count):
            while (end := self.buf.find(b'\r\n\r\n')) < 0:
                self._fill()
            head = self.buf[:end].decode('latin-1')
            if not head.startswith('HTTP/1.1 200'):
                fail(f'unexpected response: {head!r}')
            m = re.search(r'(?im)^content-length:\s*(\d+)', head)
            need = end + 4 + (int(m.group(1)) if m else 0)
            while len(self.buf) < need:
                self._fill()
            self.buf = self.buf[need:]

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            fail('the server closed a connection before answering')
        self.buf += data

    def until_eof(self) -> None:
        while self.sock.recv(65536):
            pass

    def close(self) -> None:
        self.sock.close()


def request(port: int, close: bool = False) -> bytes:
    """What wrk sends, so every server parses the same bytes as under wrk."""
    extra = 'Connection: close\r\n' if close else ''
    return f'GET /bench HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}\r\n'.encode()


def drive(scenario: str, port: int, n: int, conns: int) -> None:
    """Sends `n` requests one at a time (one batch at a time when pipelined)."""
    if scenario == 'close':
        req = request(port, close=True)
        for _ in range(n):
            c = Conn(port)
            c.sock.sendall(req)
            c.responses(1)
            c.until_eof()  # the server's close, so the next request finds it done
            c.close()
        return
    depth = PIPELINE_DEPTH if scenario == 'pipelined' else 1
    # Connections open on first use, each answered before the next opens, so
    # the accepts cost the same in the N1 and the N2 run and cancel exactly.
    pool: list[Conn] = []
    payload = request(port) * depth
    for i in range(n // depth):
        if len(pool) < conns:
            pool.append(Conn(port))
        c = pool[i % conns]
        c.sock.sendall(payload)
        c.responses(depth)
    for c in pool:
        c.close()


# ----------------------------------------------------------------- servers --

class Proc:
    """A server we started (possibly under valgrind or strace); only its PIDs are signalled."""

    live: set['Proc'] = set()

    def __init__(self, name: str, cmd: list[str], env: dict, logs: Path):
        self.name = name
        # `/usr/bin/env VAR=VALUE... server` (eddy-norec), possibly after a
        # valgrind or strace prefix: the variables go into the environment, so
        # that the tool traces the server itself, not `env`.
        if '/usr/bin/env' in cmd:
            at = cmd.index('/usr/bin/env')
            env, rest = dict(env), cmd[at + 1:]
            while rest and '=' in rest[0]:
                key, _, value = rest[0].partition('=')
                env[key], rest = value, rest[1:]
            cmd = cmd[:at] + rest
        self.port = harness.free_port()
        self.log = logs / f'{name}-{self.port}.log'
        self.cmd = cmd + ['--addr', f'127.0.0.1:{self.port}']
        with open(self.log, 'wb') as log:
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env)
        Proc.live.add(self)

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while b'listening on' not in self.log.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.die('did not print "listening on"')
            time.sleep(0.05)

    def server_pid(self) -> int:
        """The server's own PID: strace's child when traced, else the process itself."""
        if self.cmd[0] != 'strace':
            return self.proc.pid
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            kids = Path(f'/proc/{self.proc.pid}/task/{self.proc.pid}/children').read_text().split()
            if kids:
                return int(kids[0])
            time.sleep(0.02)
        self.die('strace has no child')

    def kill(self) -> None:
        """SIGKILL to the server and its tracer, when the harness stops early.

        Killing strace alone would detach it and leave the server running.
        """
        if self.proc.poll() is None:
            try:
                if self.cmd[0] == 'strace':
                    kids = Path(f'/proc/{self.proc.pid}/task/{self.proc.pid}/children').read_text().split()
                    for kid in kids:
                        os.kill(int(kid), signal.SIGKILL)
            except OSError:
                pass
            self.proc.kill()
            self.proc.wait()
        Proc.live.discard(self)

    def stop(self, timeout: float = 120.0) -> None:
        """SIGTERM to the server itself; it must exit on its own with status 0."""
        Proc.live.discard(self)
        if self.proc.poll() is None:
            os.kill(self.server_pid(), signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.die(f'did not exit within {timeout:.0f}s of SIGTERM')
        if self.proc.returncode != 0:
            self.die(f'exited with status {self.proc.returncode} after SIGTERM (want a clean 0)')

    def die(self, msg: str) -> None:
        self.kill()
        tail = self.log.read_text(errors='replace')[-2000:]
        fail(f'{self.name}: {msg}\n        command: {shlex.join(self.cmd)}\n        output:\n{tail}')


def run_counted(tool: str, name: str, cmd: list[str], scenario: str, n: int, s, logs: Path) -> dict:
    """One server run under `tool` with `n` requests; returns the tool's counts."""
    env = dict(os.environ)
    if not s.no_tunables:
        env['GLIBC_TUNABLES'] = TUNABLES
    out = logs / f'{tool}-{name}-{scenario}-{n}.out'
    out.unlink(missing_ok=True)
    if tool == 'instr':
        prefix = ['valgrind', '--tool=callgrind', f'--callgrind-out-file={out}',
                  '--dump-line=no', '--compress-strings=no', f'--log-file={out}.log']
    else:
        # -f: every thread; -c: a count per system call; -o: not mixed with the server's output.
        prefix = ['strace', '-f', '-c', '-o', str(out)]
    proc = Proc(name, prefix + cmd, env, logs)
    proc.wait_ready()
    drive(scenario, proc.port, n, s.conns)
    proc.stop()
    text = out.read_text(errors='replace')
    if tool == 'instr':
        m = re.search(r'^(?:summary|totals):\s*(\d+)', text, re.M)
        if not m:
            fail(f'no totals in {out}')
        return {'total': int(m.group(1)), 'by_fn': per_function(out)}
    return parse_strace(text, out)


def per_function(out: Path) -> dict[str, int]:
    """Self instructions per function (split by source file, as callgrind_annotate shows them)."""
    text = subprocess.run(['callgrind_annotate', '--inclusive=no', '--threshold=100', '--auto=no', str(out)],
                          capture_output=True, text=True).stdout
    by_fn: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r'^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.+?)(?: \[[^\]]*\])?$', line)
        if m and m.group(2) != 'PROGRAM TOTALS':
            # Shorter names: the std and registry source prefixes say nothing.
            name = re.sub(r'^/rustc/[0-9a-f]+/library/', 'std/', m.group(2))
            name = re.sub(r'^/[^ ]*/registry/src/[^/]+/', '', name)
            # Relative to the repository, so runs from two checkouts compare.
            name = name.removeprefix(str(ROOT) + '/')
            by_fn[name] = by_fn.get(name, 0) + int(m.group(1).replace(',', ''))
    return by_fn


def parse_strace(text: str, where: Path) -> dict:
    """`strace -c` table -> {'total': calls, 'by_call': {name: calls}}."""
    by_call, total = {}, None
    for line in text.splitlines():
        f = line.split()
        if len(f) < 5 or not re.fullmatch(r'[\d.]+', f[0]):
            continue
        calls = int(f[3])
        if f[-1] == 'total':
            total = calls
        else:
            by_call[f[-1]] = calls
    if total is None:
        fail(f'no total line in {where}')
    return {'total': total, 'by_call': by_call}


def marginal(tool: str, name: str, cmd: list[str], scenario: str, s, logs: Path) -> dict:
    """(count(N2) − count(N1)) / (N2 − N1), and the per-system-call breakdown."""
    a = run_counted(tool, name, cmd, scenario, s.n1, s, logs)
    b = run_counted(tool, name, cmd, scenario, s.n2, s, logs)
    dn = s.n2 - s.n1
    result = {'per_req': (b['total'] - a['total']) / dn, 'n1': a['total'], 'n2': b['total']}
    if 'by_call' in a:
        calls = set(a['by_call']) | set(b['by_call'])
        per = {c: (b['by_call'].get(c, 0) - a['by_call'].get(c, 0)) / dn for c in calls}
        result['by_call'] = {c: v for c, v in sorted(per.items(), key=lambda kv: -kv[1]) if abs(v) >= 0.005}
    if 'by_fn' in a:
        fns = set(a['by_fn']) | set(b['by_fn'])
        per = {f: (b['by_fn'].get(f, 0) - a['by_fn'].get(f, 0)) / dn for f in fns}
        result['by_fn'] = [(f, v) for f, v in sorted(per.items(), key=lambda kv: -kv[1])[:PROFILE_TOP]
                           if abs(v) >= 0.5]
        # The same instructions by source file: with everything inlined into
        # a few big functions, which code (parser, router, response) runs is
        # clearer by file than by function.
        files: dict[str, float] = {}
        for f, v in per.items():
            files[f.split(':', 1)[0]] = files.get(f.split(':', 1)[0], 0) + v
        result['by_file'] = [(f, v) for f, v in sorted(files.items(), key=lambda kv: -kv[1])[:PROFILE_TOP]
                             if abs(v) >= 0.5]
    return result


def rss_kib(pid: int) -> int:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
    fail(f'no VmRSS for {pid}')


def idle_memory(name: str, cmd: list[str], s, logs: Path) -> dict:
    """Bytes of RSS per idle keep-alive connection that has served one request."""
    proc = Proc(name, cmd, dict(os.environ), logs)
    proc.wait_ready()
    # Warm up first (lazy statics, the first buffers, the Date cache), then let
    # the server see the close, so `before` holds no connection.
    warm = Conn(proc.port)
    for _ in range(4):
        warm.sock.sendall(request(proc.port))
        warm.responses(1)
    warm.close()
    time.sleep(0.3)
    before = rss_kib(proc.proc.pid)
    conns = []
    try:
        for _ in range(s.idle):
            c = Conn(proc.port)
            c.sock.sendall(request(proc.port))
            c.responses(1)
            conns.append(c)
        time.sleep(0.3)
        after = rss_kib(proc.proc.pid)
    finally:
        for c in conns:
            c.close()
    proc.stop()
    return {'per_conn': (after - before) * 1024 / s.idle, 'before_kib': before, 'after_kib': after}


# ----------------------------------------------------------------- report --

def fmt(x: float | None, digits: int = 0) -> str:
    return '–' if x is None else f'{x:,.{digits}f}'


def fmt_runs(r: dict | None, digits: int = 0) -> str:
    """The median count, with (min–max) when it was taken more than once."""
    if not r:
        return '–'
    runs = r.get('all', [r['per_req']])
    if len(runs) == 1:
        return fmt(r['per_req'], digits)
    return f'{fmt(r["per_req"], digits)} ({fmt(min(runs), digits)}–{fmt(max(runs), digits)})'


def report(results: dict, s, stamp: str, elapsed: float, logs: Path) -> tuple[str, str, str]:
    """The markdown document, the table alone, and the instructions chart."""
    names = [n for n in s.servers]
    head = '| scenario | ' + ' | '.join(names) + ' |'
    sep = '|---|' + '---:|' * len(names)
    rows = [head, sep]
    label = {sc: ABOUT[sc].format(c=s.conns) for sc in s.scenarios}
    if 'instr' in s.measures:
        for sc in s.scenarios:
            rows.append(f'| instructions / request, {label[sc]} | ' + ' | '.join(
                fmt_runs(results.get(('instr', n, sc))) for n in names) + ' |')
    if 'syscalls' in s.measures:
        for sc in s.scenarios:
            rows.append(f'| system calls / request, {label[sc]} | ' + ' | '.join(
                fmt_runs(results.get(('syscalls', n, sc)), 2) for n in names) + ' |')
    if 'memory' in s.measures:
        rows.append(f'| bytes of memory / idle connection ({s.idle:,}) | ' + ' | '.join(
            fmt(results.get(('memory', n), {}).get('per_conn')) for n in names) + ' |')
    table = '\n'.join(rows)

    details = []
    if 'syscalls' in s.measures:
        details += ['System calls per request, by call (marginal; calls under 0.005 per request left out):', '']
        for sc in s.scenarios:
            for n in names:
                r = results.get(('syscalls', n, sc))
                if r:
                    details.append(f'- {label[sc]}, {n}: ' + ', '.join(
                        f'{c} {v:.2f}' for c, v in r['by_call'].items()))
        details.append('')
    if 'instr' in s.measures:
        details += ['## Where the instructions go', '',
                    f'Marginal self instructions per request by function, the top {PROFILE_TOP} '
                    '(callgrind_annotate `file:function`; one function inlined from several files shows '
                    'once per file). The raw callgrind files stay in the log directory below for '
                    '`callgrind_annotate --inclusive=yes FILE`.', '']
        for sc in s.scenarios:
            for n in names:
                r = results.get(('instr', n, sc))
                if r and r.get('by_fn'):
                    details += [f'### {n}, {label[sc]}: {r["per_req"]:,.0f} per request', '', '```text']
                    details += [f'{v:9,.1f}  {f[:150]}' for f, v in r['by_fn']]
                    details += ['```', '', 'By source file:', '', '```text']
                    details += [f'{v:9,.1f}  {f[:150]}' for f, v in r.get('by_file', [])]
                    details += ['```', '']
    raw = ['Raw totals (N1 run → N2 run):', '']
    for key, r in sorted(results.items(), key=lambda kv: str(kv[0])):
        if key[0] == 'memory':
            raw.append(f'- memory {key[1]}: VmRSS {r["before_kib"]:,} KiB → {r["after_kib"]:,} KiB')
        else:
            raw.append(f'- {key[0]} {key[1]} {key[2]}: {r["n1"]:,} → {r["n2"]:,}')
    cmd = (f'SERVERS={",".join(s.servers)} SCENARIOS={",".join(s.scenarios)} '
           f'MEASURES={",".join(s.measures)} N1={s.n1} N2={s.n2} CONNS={s.conns} IDLE={s.idle}'
           + (f' REPEAT={s.repeat}' if s.repeat > 1 else '')
           + (' NO_TUNABLES=1' if s.no_tunables else '') + ' bench/instr/run.sh')
    svg = f'instr-{stamp}.svg'
    doc = [
        f'# Instructions, system calls and memory per request, {stamp}', '',
        f'Reproduce with: `{cmd}` ({elapsed / 60:.1f} min)', '',
        *harness.machine_info(),
        f'- valgrind: {first_line(["valgrind", "--version"])}; strace: {first_line(["strace", "-V"])}',
        f'- eddy: commit {eddy_commit()}', '',
        f'Marginal figures: (count after N2 = {s.n2:,} requests − count after N1 = {s.n1:,}) / '
        f'{s.n2 - s.n1:,}, so start-up and shutdown cancel. Requests go one at a time, '
        f'round-robin over {s.conns} connections (pipelined: one batch of {PIPELINE_DEPTH} at a time; '
        'close: a new connection per request, `Connection: close`), so each figure is the cost of '
        'one wake-up at low concurrency. Instructions are user-space instructions counted by '
        '`valgrind --tool=callgrind` (every thread); system calls are counted by `strace -f -c`. '
        + ('glibc\'s `rep movsb`/`rep stosb` string paths are **on** (NO_TUNABLES=1): '
           'valgrind counts every byte they move as an instruction.' if s.no_tunables else
           f'glibc\'s `rep movsb`/`rep stosb` string paths are switched off with '
           f'`GLIBC_TUNABLES={TUNABLES}`, because valgrind counts every byte they move as an instruction.')
        + f' Memory: VmRSS growth over {s.idle:,} idle keep-alive connections that each served one '
        'request, server running natively.', '',
        f'![instructions per request]({svg})', '',
        table, '',
        *details,
        *raw, '', f'Logs and callgrind/strace files: `{logs}`', '',
    ]
    return '\n'.join(doc), table, svg_chart(results, s, label)


def svg_chart(results: dict, s, label: dict) -> str:
    groups = []
    for sc in s.scenarios:
        bars = [(n, r['per_req'], f'{r["per_req"]:,.0f}')
                for n in s.servers if (r := results.get(('instr', n, sc)))]
        sys_bars = {n: r['per_req'] for n in s.servers if (r := results.get(('syscalls', n, sc)))}
        bars = [(n, v, t + (f'  ({sys_bars[n]:.2f} syscalls)' if n in sys_bars else '')) for n, v, t in bars]
        if bars:
            groups.append((label[sc], bars))
    return chart.grouped_bars(
        'User-space instructions per request (lower is better)',
        f'callgrind, marginal over {s.n1:,}→{s.n2:,} requests; system calls per request (strace) in parentheses',
        groups, note='bench/instr/run.sh; rep movsb/stosb off via GLIBC_TUNABLES' if not s.no_tunables else '')


def eddy_commit() -> str:
    """The repository's commit, marked when the work tree has changes on top."""
    commit = first_line(['git', '-C', str(ROOT), 'rev-parse', '--short', 'HEAD'])
    dirty = subprocess.run(['git', '-C', str(ROOT), 'diff', '--quiet', 'HEAD', '--', 'runtime', 'server',
                            'examples'], capture_output=True).returncode
    return commit + (' (with uncommitted changes to runtime/server/examples)' if dirty else '')


def first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return ((out.stdout or out.stderr).strip().splitlines() or ['?'])[0]
    except (OSError, subprocess.TimeoutExpired):
        return '?'


# ------------------------------------------------------------------- main --

def measure_all(s, commands: dict[str, list[str]], logs: Path, results: dict) -> None:
    """Takes every selected count, filling `results` as it goes."""
    for measure in s.measures:
        for name in s.servers:
            if measure == 'memory':
                r = results[(measure, name)] = idle_memory(name, commands[name], s, logs)
                say(f'memory   {name:15} {r["per_conn"]:10,.0f} bytes per idle connection')
                continue
            for sc in s.scenarios:
                runs = []
                for _ in range(s.repeat):
                    runs.append(marginal(measure, name, commands[name], sc, s, logs))
                    if s.repeat > 1:
                        say(f'{measure:8} {name:15} {sc:10} {runs[-1]["per_req"]:10,.2f} per request (one count)')
                # The median run's breakdown stands for the row, the median
                # of all runs is its figure, and the others give its range.
                runs.sort(key=lambda run: run['per_req'])
                every = [x['per_req'] for x in runs]
                r = results[(measure, name, sc)] = dict(runs[len(runs) // 2], all=every,
                                                        per_req=statistics.median(every))
                say(f'{measure:8} {name:15} {sc:10} {r["per_req"]:10,.2f} per request'
                    + (f'  ({", ".join(f"{c} {v:.2f}" for c, v in r["by_call"].items())})'
                       if 'by_call' in r else ''))


def main() -> None:
    s = parse_settings()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))
    for tool, measure in (('valgrind', 'instr'), ('strace', 'syscalls')):
        if measure in s.measures and shutil.which(tool) is None:
            fail(f'{tool} is missing: apt-get install -y {tool}')
    commands = harness.build(types.SimpleNamespace(servers=s.servers, workers=1))
    # Clients and servers both need IDLE + a margin of open files.
    harness.raise_fd_limit(s.idle + 512)
    logs = Path(tempfile.mkdtemp(prefix='instr-', dir=harness.target_dir(BENCH)))
    stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M')
    start = time.monotonic()
    results: dict = {}
    try:
        measure_all(s, commands, logs, results)
    finally:
        for proc in list(Proc.live):
            proc.kill()
    doc, table, svg = report(results, s, stamp, time.monotonic() - start, logs)
    RESULTS.mkdir(parents=True, exist_ok=True)
    md = RESULTS / f'instr-{stamp}.md'
    md.write_text(doc)
    (RESULTS / f'instr-{stamp}.svg').write_text(svg)
    (RESULTS / 'instr-latest.svg').write_text(svg)
    print(table)
    print(f'\nMarginal over {s.n1:,} -> {s.n2:,} requests; '
          + ("glibc's rep movsb/stosb ON (NO_TUNABLES=1): valgrind counts each byte they move."
             if s.no_tunables else
             "glibc's rep movsb/stosb switched off with GLIBC_TUNABLES (valgrind counts each byte "
             "they move as an instruction)."))
    say(f'wrote {md.relative_to(ROOT)} and its chart (also bench/results/instr-latest.svg); logs in {logs}')


if __name__ == '__main__':
    main()
