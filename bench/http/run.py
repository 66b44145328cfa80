#!/usr/bin/env python3
"""HTTP benchmark harness: eddy against the floor, tokio+hyper, tokio+httparse, std::net and aiohttp.

Run it through `bench/http/run.sh` (see bench/README.md). Python 3.11 stdlib only.

What one run is: a fresh server process on a free loopback port, checked to
answer `GET /bench` with exactly `Hello, bench!`; a warmup wrk run that is thrown
away; then the measured wrk run, bracketed by readings of the server's CPU time
(/proc/PID/stat) so that CPU per request counts only the measured requests; then
its peak RSS (VmHWM); then the server is stopped. Runs alternate servers within
each scenario and rotate the server order every round, so a slow drift of the
machine (thermal, other tenants) spreads over all servers instead of one.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chart  # noqa: E402  (bench/http/chart.py, next to this file)

ROOT = Path(__file__).resolve().parents[2]  # the eddy repository
BENCH = ROOT / 'bench'
HTTP = BENCH / 'http'
VENV = BENCH / 'target' / 'venv'
RESULTS = BENCH / 'results'
LOGS = BENCH / 'target' / 'http-logs'

ALL_SERVERS = ['floor', 'eddy', 'hyper', 'tokio-httparse', 'std', 'aiohttp', 'eddy-norec', 'eddy-nohooks',
               'eddy-deferred']
# The flight recorder's cost (README, "The flight recorder's cost"): eddy-norec is
# the same greeting binary with EDDY_TRACE_CAPACITY=0 (nothing kept; the hooks still
# run into a one-slot ring); eddy-nohooks is greeting built with
# RUSTFLAGS='--cfg eddy_no_recorder' (every hook compiled out), in its own target dir.
# eddy-deferred is greeting with --defer-accept (Limits::defer_accept, TCP_DEFER_ACCEPT):
# the kernel hands a connection over only with its request, so a new connection is
# never accepted before its request lands (see server/src/server/limits.rs).
# Run when SERVERS is not given: the floor is the reference every table needs.
DEFAULT_SERVERS = ['floor', 'eddy', 'hyper', 'std', 'aiohttp']
FLOOR_SRC = BENCH / 'peers' / 'floor' / 'floor.c'
ALL_SCENARIOS = ['keepalive', 'pipelined', 'close', 'c1000']
PIPELINE_DEPTH = 16
PATH = '/bench'
EXPECTED_BODY = b'Hello, bench!'
CLK_TCK = os.sysconf('SC_CLK_TCK')


@dataclass
class Scenario:
    """One wrk workload; every scenario uses one wrk thread (see README)."""

    name: str
    connections: int
    extra: list[str] = field(default_factory=list)  # wrk flags besides -t/-c/-d/-s
    script: str = 'report.lua'
    script_args: list[str] = field(default_factory=list)
    about: str = ''


SCENARIOS = {
    'keepalive': Scenario('keepalive', 64, about='64 keep-alive connections, one request in flight each'),
    'pipelined': Scenario(
        'pipelined', 64, script='pipeline.lua', script_args=[str(PIPELINE_DEPTH)],
        about=f'64 connections, {PIPELINE_DEPTH} pipelined requests per write',
    ),
    'close': Scenario(
        'close', 64, extra=['-H', 'Connection: close'],
        about='64 connections, `Connection: close`: a new TCP connection per request',
    ),
    'c1000': Scenario('c1000', 1000, about='1000 keep-alive connections'),
}


def say(msg: str) -> None:
    """Progress goes to stderr, so stdout carries only the final table."""
    print(f'[bench] {msg}', file=sys.stderr, flush=True)


def fail(msg: str) -> NoReturn:
    """Stops the whole harness with a message that says what to do."""
    print(f'\n[bench] ERROR: {msg}', file=sys.stderr, flush=True)
    sys.exit(1)


def run_cmd(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Runs a setup command, echoing it, so what the harness does is visible."""
    say('$ ' + shlex.join(map(str, cmd)))
    kw.setdefault('stdout', sys.stderr)  # keep stdout for the table alone
    return subprocess.run(cmd, **kw)


# ---------------------------------------------------------------- settings --

def parse_settings() -> argparse.Namespace:
    """Flags win over environment variables, which win over defaults."""
    env = os.environ
    p = argparse.ArgumentParser(description='Reproduce the HTTP comparison table.')
    p.add_argument('--servers', default=env.get('SERVERS', ','.join(DEFAULT_SERVERS)),
                   help='comma list from ' + ','.join(ALL_SERVERS) + ' (env SERVERS)')
    p.add_argument('--scenarios', default=env.get('SCENARIOS', ','.join(ALL_SCENARIOS)),
                   help='comma list from ' + ','.join(ALL_SCENARIOS) + ' (env SCENARIOS)')
    p.add_argument('--rounds', type=int, default=None, help='env ROUNDS, default 5')
    p.add_argument('--duration', default=None, help='measured seconds per run, env DURATION, default 10s')
    p.add_argument('--warmup', default=env.get('WARMUP', '1s'), help='unmeasured seconds, env WARMUP')
    p.add_argument('--workers', type=int, default=int(env.get('WORKERS', '1')),
                   help='server threads (env WORKERS); 1 pins server to CPU 0 and wrk to CPU 1')
    p.add_argument('--server-cpus', default=env.get('SERVER_CPUS'),
                   help='taskset CPU list for the server (env SERVER_CPUS); default 0 with one worker, '
                        'else unpinned')
    p.add_argument('--wrk-cpus', default=env.get('WRK_CPUS'),
                   help='taskset CPU list for wrk (env WRK_CPUS); default 1 with one worker, else unpinned')
    p.add_argument('--wrk-threads', type=int, default=int(env.get('WRK_THREADS', '1')),
                   help='wrk threads (env WRK_THREADS); 1 leaves the other core to the server')
    p.add_argument('--quick', action='store_true', help='smoke test: ROUNDS=1, DURATION=2s')
    p.add_argument('--allow-port-exhaustion', action='store_true',
                   help='run `close` even when TIME_WAIT reuse is off (numbers will be port-bound)')
    s = p.parse_args()
    s.rounds = s.rounds or int(env.get('ROUNDS', '1' if s.quick else '5'))
    s.duration = seconds(s.duration or env.get('DURATION', '2s' if s.quick else '10s'))
    s.warmup = seconds(s.warmup)
    s.servers = split_choice(s.servers, ALL_SERVERS, 'server')
    s.scenarios = split_choice(s.scenarios, ALL_SCENARIOS, 'scenario')
    if s.rounds < 1 or s.duration < 1 or s.workers < 1:
        fail('rounds, duration and workers must be at least 1')
    # One worker: server and wrk each get a core of their own. More workers:
    # unpinned, unless CPU lists are given (a bigger machine, see README).
    if s.workers == 1:
        s.server_cpus = s.server_cpus or '0'
        s.wrk_cpus = s.wrk_cpus or '1'
    s.pin = bool(s.server_cpus or s.wrk_cpus)
    if s.wrk_threads < 1:
        fail('WRK_THREADS must be at least 1')
    return s


def seconds(text: str) -> int:
    """'10s' or '10' -> 10: wrk takes whole seconds here, so do we."""
    text = str(text).strip().removesuffix('s')
    try:
        return int(text)
    except ValueError:
        fail(f'bad duration {text!r}: give whole seconds, e.g. 10s')


def split_choice(text: str, allowed: list[str], what: str) -> list[str]:
    """Parses a comma list, keeping the given order and refusing unknown names."""
    names = [n.strip() for n in text.split(',') if n.strip()]
    for n in names:
        if n not in allowed:
            fail(f'unknown {what} {n!r}; choose from {",".join(allowed)}')
    if not names:
        fail(f'no {what} selected')
    return names


# ------------------------------------------------------------------ setup --

def ensure_tools(settings: argparse.Namespace) -> None:
    """Installs wrk (apt) and aiohttp (venv) when missing, and says so."""
    sudo = [] if os.geteuid() == 0 else ['sudo']
    if shutil.which('wrk') is None:
        say('wrk is missing: installing it with apt-get')
        run_cmd(sudo + ['apt-get', 'update', '-q'], check=False)
        if run_cmd(sudo + ['apt-get', 'install', '-y', '-q', 'wrk']).returncode != 0:
            fail('could not install wrk (apt-get install -y wrk)')
    for tool in ('timeout', 'taskset'):
        if shutil.which(tool) is None:
            fail(f'{tool} is missing (coreutils / util-linux)')
    if 'aiohttp' in settings.servers:
        python = VENV / 'bin' / 'python'
        if not python.exists():
            say(f'no venv at {VENV}: creating it')
            run_cmd([sys.executable, '-m', 'venv', str(VENV)], check=True)
        if subprocess.run([python, '-c', 'import aiohttp'], capture_output=True).returncode != 0:
            say('aiohttp is missing from the venv: installing it with pip')
            if run_cmd([python, '-m', 'pip', 'install', '-q', 'aiohttp']).returncode != 0:
                fail('could not pip install aiohttp into ' + str(VENV))


def target_dir(manifest_dir: Path) -> Path:
    """Where cargo puts binaries for a workspace (honours CARGO_TARGET_DIR)."""
    out = subprocess.run(
        ['cargo', 'metadata', '--no-deps', '--format-version', '1'],
        cwd=manifest_dir, capture_output=True, text=True, check=True,
    )
    return Path(json.loads(out.stdout)['target_directory'])


def build(settings: argparse.Namespace) -> dict[str, list[str]]:
    """Builds what the selected servers need; returns each server's command."""
    commands: dict[str, list[str]] = {}
    workers = ['--workers', str(settings.workers)]
    rust_peers = {'hyper': 'hyper-greeting', 'std': 'std-greeting', 'tokio-httparse': 'tokio-httparse'}
    peers = [pkg for name, pkg in rust_peers.items() if name in settings.servers]
    if peers:
        say('building the Rust peers (release)')
        # Only the peers: other members of the bench workspace are not our business.
        cmd = ['cargo', 'build', '--release', '--manifest-path', str(BENCH / 'Cargo.toml')]
        if run_cmd(cmd + [arg for pkg in peers for arg in ('-p', pkg)]).returncode:
            fail('building the peers failed (cargo build --release --manifest-path bench/Cargo.toml)')
        release = target_dir(BENCH) / 'release'
        for name, pkg in rust_peers.items():
            commands[name] = [str(release / pkg)] + workers
    if 'floor' in settings.servers:
        commands['floor'] = [str(build_floor())] + workers
    if 'eddy' in settings.servers:
        say('building eddy\'s greeting example (release)')
        if run_cmd(['cargo', 'build', '--release', '--example', 'greeting'], cwd=ROOT).returncode:
            fail('building eddy failed (cargo build --release --example greeting in the repo root).\n'
                 '        Fix the build, or leave eddy out: SERVERS=hyper,std,aiohttp bench/http/run.sh')
        commands['eddy'] = [str(target_dir(ROOT) / 'release' / 'examples' / 'greeting')] + workers
    if 'eddy-norec' in settings.servers:
        if run_cmd(['cargo', 'build', '--release', '--example', 'greeting'], cwd=ROOT).returncode:
            fail('building eddy failed (cargo build --release --example greeting in the repo root)')
        greeting = str(target_dir(ROOT) / 'release' / 'examples' / 'greeting')
        commands['eddy-norec'] = ['/usr/bin/env', 'EDDY_TRACE_CAPACITY=0', greeting] + workers
    if 'eddy-deferred' in settings.servers:
        if run_cmd(['cargo', 'build', '--release', '--example', 'greeting'], cwd=ROOT).returncode:
            fail('building eddy failed (cargo build --release --example greeting in the repo root)')
        greeting = str(target_dir(ROOT) / 'release' / 'examples' / 'greeting')
        commands['eddy-deferred'] = [greeting, '--defer-accept'] + workers
    if 'eddy-nohooks' in settings.servers:
        say('building eddy\'s greeting example with the recorder compiled out (release)')
        nohooks = target_dir(ROOT) / 'nohooks'
        env = dict(os.environ, RUSTFLAGS='--cfg eddy_no_recorder', CARGO_TARGET_DIR=str(nohooks))
        cmd = ['cargo', 'build', '--release', '--example', 'greeting']
        if run_cmd(cmd, cwd=ROOT, env=env).returncode:
            fail('building eddy with --cfg eddy_no_recorder failed')
        commands['eddy-nohooks'] = [str(nohooks / 'release' / 'examples' / 'greeting')] + workers
    if 'aiohttp' in settings.servers:
        commands['aiohttp'] = [str(VENV / 'bin' / 'python'), str(BENCH / 'peers' / 'aiohttp_greeting.py')]
    commands = {name: cmd for name, cmd in commands.items() if name in settings.servers}
    for name, cmd in commands.items():
        if not Path(cmd[0]).is_file():
            fail(f'{name}: {cmd[0]} does not exist after the build')
    return commands


def build_floor() -> Path:
    """Compiles the floor (one C file) with the system compiler; returns the binary.

    C and the system `cc`, not a cargo member: nothing stands between the loop
    and the system calls (no runtime, no allocator, no std start-up), it builds
    in well under a second, and the issue's floor figures came from such a loop.
    """
    out = target_dir(BENCH) / 'floor' / 'floor'
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.stat().st_mtime < FLOOR_SRC.stat().st_mtime:
        cc = os.environ.get('CC', 'cc')
        cmd = [cc, '-O2', '-g', '-Wall', '-Wextra', '-pthread', '-o', str(out), str(FLOOR_SRC)]
        if run_cmd(cmd).returncode:
            fail(f'building the floor failed ({shlex.join(cmd)})')
    return out


def raise_fd_limit(needed: int) -> None:
    """`ulimit -n` for wrk and the servers (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(needed, soft)
    if hard != resource.RLIM_INFINITY and hard < want:
        try:  # only root may raise the hard limit
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return
        except (ValueError, OSError):
            fail(f'open-file limit is {hard}; c1000 needs {needed}: raise `ulimit -Hn`')
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


# -------------------------------------------------------- TIME_WAIT / ports --

def sysctl(name: str) -> str:
    """Reads a sysctl from /proc/sys ('?' when unreadable)."""
    try:
        return Path('/proc/sys', *name.split('.')).read_text().strip()
    except OSError:
        return '?'


def port_situation() -> dict:
    """What limits the rate of new loopback connections (the `close` scenario).

    Each closed connection leaves a TIME_WAIT socket for 60 s on the side that
    closed first. If that is wrk's side, its ephemeral port cannot be reused for
    the same server address until then, unless `tcp_tw_reuse` lets connect()
    take it over (1 = everywhere, 2 = loopback only; the kernel then needs the
    TIME_WAIT to be at least 1 s old). Without reuse, the range / 60 s is the
    most connections per second that can be opened, far below what servers do.
    """
    low, high = (int(x) for x in sysctl('net.ipv4.ip_local_port_range').split())
    reuse = sysctl('net.ipv4.tcp_tw_reuse')
    ports = high - low + 1
    return {
        'tcp_tw_reuse': reuse,
        'ip_local_port_range': f'{low}-{high}',
        'ephemeral_ports': ports,
        'tcp_fin_timeout': sysctl('net.ipv4.tcp_fin_timeout'),
        # 1 s minimum TIME_WAIT age with reuse, 60 s without.
        'max_new_conn_per_s': ports if reuse in ('1', '2') else ports // 60,
    }


def time_wait_counts(port: int) -> dict:
    """TIME_WAIT sockets for the server's port, by which side closed first."""
    server_side = client_side = 0
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] != '06':  # TIME_WAIT
                continue
            if int(f[1].rsplit(':', 1)[1], 16) == port:
                server_side += 1
            elif int(f[2].rsplit(':', 1)[1], 16) == port:
                client_side += 1
    return {'server_closed_first': server_side, 'client_closed_first': client_side}


# ----------------------------------------------------------------- servers --

def free_port() -> int:
    """A port the kernel says is free now (a tiny race with other programs is fine)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def cpu_ticks(pid: int) -> tuple[int, int]:
    """(utime, stime) of the whole process: every thread, live or exited.

    /proc/PID/stat is per process (per-thread figures are under task/); fields
    14 and 15 count clock ticks. Split after the last ')' because the command
    name may itself contain spaces or parentheses. Kept apart because on this
    workload the kernel's share (the TCP stack, epoll) is most of a request:
    user time is what a server's own code decides.
    """
    rest = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return int(rest[11]), int(rest[12])  # rest[0] is field 3


def machine_ticks() -> tuple[int, int]:
    """(busy, steal) clock ticks of all CPUs so far, from /proc/stat.

    Busy minus what the server and wrk used is what OTHER programs took during
    a run (say, a compile on the same box): the run is then noisier than its
    neighbours. Steal is time the hypervisor gave to another machine.
    """
    f = [int(x) for x in Path('/proc/stat').read_text().split('\n', 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (f + [0] * 8)[:8]
    return user + nice + system + irq + softirq, steal


def peak_rss_kib(pid: int) -> int:
    """VmHWM: the most resident memory the process ever had, in KiB."""
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmHWM:'):
            return int(line.split()[1])
    return -1


class Server:
    """A server process we started; only its PID is ever signalled."""

    live: set['Server'] = set()

    def __init__(self, name: str, command: list[str], cpus: str | None, tag: str):
        self.name = name
        self.port = free_port()
        self.addr = f'127.0.0.1:{self.port}'
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log = LOGS / f'{tag}-{name}.log'
        cmd = command + ['--addr', self.addr]
        # taskset execs the server, so the PID we get is the server's own.
        if cpus:
            cmd = ['taskset', '-c', cpus] + cmd
        self.cmd = cmd
        with open(self.log, 'wb') as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        Server.live.add(self)
        self.pid = self.proc.pid

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Waits for `listening on`, then for the port to accept, then checks the body."""
        deadline = time.monotonic() + timeout
        while b'listening on' not in self.log.read_bytes():
            self.check_alive()
            if time.monotonic() > deadline:
                self.die(f'{self.name} did not print "listening on" within {timeout:.0f}s')
            time.sleep(0.02)
        while True:
            try:
                socket.create_connection(('127.0.0.1', self.port), timeout=1).close()
                break
            except OSError:
                self.check_alive()
                if time.monotonic() > deadline:
                    self.die(f'{self.name} never accepted on {self.addr}')
                time.sleep(0.02)
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=5)
        try:
            conn.request('GET', PATH)
            resp = conn.getresponse()
            body = resp.read()
        except OSError as e:
            self.die(f'{self.name}: GET {PATH} failed: {e}')
        finally:
            conn.close()
        if resp.status != 200 or body != EXPECTED_BODY:
            self.die(f'{self.name}: GET {PATH} answered {resp.status} {body!r}, expected 200 {EXPECTED_BODY!r}')

    def check_alive(self) -> None:
        """Fails loudly if the server exited on its own."""
        if self.proc.poll() is not None:
            self.die(f'{self.name} exited with status {self.proc.returncode}')

    def die(self, msg: str) -> None:
        """Stops everything, showing the server's own output."""
        self.stop()
        tail = self.log.read_text(errors='replace')[-2000:]
        fail(f'{msg}\n        command: {shlex.join(self.cmd)}\n        its output ({self.log}):\n{tail}')

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; idempotent."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        Server.live.discard(self)


# --------------------------------------------------------------------- wrk --

def wrk(scenario: Scenario, port: int, secs: int, cpus: str | None, threads: int = 1) -> dict:
    """Runs wrk once, bounded by `timeout`; returns the reporter's JSON (or an error)."""
    cmd = ['wrk', f'-t{threads}', f'-c{max(scenario.connections, threads)}', f'-d{secs}s', '--timeout', '2s',
           '-s', str(HTTP / scenario.script), *scenario.extra, f'http://127.0.0.1:{port}{PATH}']
    if scenario.script_args:
        cmd += ['--', *scenario.script_args]
    if cpus:
        cmd = ['taskset', '-c', cpus] + cmd
    # wrk can hang on a server that stops answering: allow the duration plus
    # generous slack for connecting and reporting, then kill it.
    cmd = ['timeout', '--kill-after=5', str(secs + 30)] + cmd
    # report.lua needs the connection count to undo wrk's latency "correction".
    env = dict(os.environ, WRK_CONNECTIONS=str(scenario.connections))
    # wrk's own CPU time says whether the load generator was the bottleneck:
    # a waited-for child's usage (with its waited-for children: timeout, taskset,
    # wrk) is added to RUSAGE_CHILDREN when it exits.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result = {'wrk_cmd': shlex.join(cmd), 'wrk_cpu_s': round(cpu, 3)}
    line = next((ln for ln in reversed(out.stdout.splitlines()) if ln.startswith('{')), None)
    if out.returncode != 0 or line is None:
        result['failure'] = f'wrk exit {out.returncode}: {(out.stderr or out.stdout).strip()[-500:]}'
        return result
    result.update(json.loads(line))
    return result


def measure(name: str, command: list[str], scenario: Scenario, settings, tag: str) -> dict:
    """One run: fresh server, check, warmup, measured run with CPU and RSS readings."""
    server = Server(name, command, settings.server_cpus, tag)
    try:
        server.wait_ready()
        if settings.warmup:
            wrk(scenario, server.port, settings.warmup, settings.wrk_cpus, settings.wrk_threads)
            server.check_alive()
        (user, system), (busy, steal) = cpu_ticks(server.pid), machine_ticks()
        run = wrk(scenario, server.port, settings.duration, settings.wrk_cpus, settings.wrk_threads)
        (user_after, system_after), (busy_after, steal_after) = cpu_ticks(server.pid), machine_ticks()
        before, after = user + system, user_after + system_after
        run['steal_ticks'] = steal_after - steal
        # Ticks are sampled, so a few either way are noise, not other programs.
        run['other_ticks'] = (busy_after - busy) - (after - before) - round(run['wrk_cpu_s'] * CLK_TCK)
        server.check_alive()
        run['peak_rss_kib'] = peak_rss_kib(server.pid)
        if scenario.name == 'close':
            run['time_wait'] = time_wait_counts(server.port)
    finally:
        server.stop()
    run['cpu_ticks'] = after - before
    run['user_ticks'] = user_after - user
    if 'failure' not in run and run['requests'] > 0:
        run['rps'] = run['requests'] / (run['duration_us'] / 1e6)
        run['cpu_us_per_req'] = (after - before) / CLK_TCK * 1e6 / run['requests']
        run['user_us_per_req'] = (user_after - user) / CLK_TCK * 1e6 / run['requests']
        # Busy fractions of one core over the measured run.
        run['server_cpu_util'] = (after - before) / CLK_TCK / (run['duration_us'] / 1e6)
        run['wrk_cpu_util'] = run['wrk_cpu_s'] / (run['duration_us'] / 1e6)
        run['errors_total'] = sum(run['errors'].values())
    return run


# ----------------------------------------------------------------- report --

def fmt_us(us: float) -> str:
    """Latency for humans: µs below a millisecond, ms above."""
    return f'{us:.0f} µs' if us < 1000 else f'{us / 1000:.2f} ms'


def fmt_num(x: float) -> str:
    """Throughput with thousands separators (or two decimals when small)."""
    return f'{x:,.0f}' if x >= 100 else f'{x:.2f}'


def spread(values: list[float], fmt) -> str:
    """'median' or 'median (min–max)' when there is more than one round."""
    med = statistics.median(values)
    if len(values) == 1:
        return fmt(med)
    return f'{fmt(med)} ({fmt(min(values))}–{fmt(max(values))})'


def table(runs: list[dict], settings, ports: dict) -> tuple[str, list[str]]:
    """The markdown table (medians across rounds) and its footnotes."""
    head = ('| scenario | server | req/s | req/s vs hyper | p50 | p99 | CPU µs/req | of it user '
            '| CPU/req vs hyper | CPU/req vs floor | peak RSS | errors | server / wrk CPU |')
    rows = [head, '|' + '---|' * 13]
    notes: list[str] = []
    for sc in settings.scenarios:
        medians = {}
        for name in settings.servers:
            ok = [r for r in runs if r['scenario'] == sc and r['server'] == name and 'rps' in r]
            if ok:
                medians[name] = (statistics.median(r['rps'] for r in ok),
                                 statistics.median(r['cpu_us_per_req'] for r in ok))
        for name in settings.servers:
            mine = [r for r in runs if r['scenario'] == sc and r['server'] == name]
            ok = [r for r in mine if 'rps' in r]
            for r in mine:
                ncpu, secs = os.cpu_count() or 1, settings.duration
                stolen = r.get('steal_ticks', 0) / CLK_TCK / ncpu / secs
                others = r.get('other_ticks', 0) / CLK_TCK / ncpu / secs
                if stolen > 0.02 or others > 0.02:
                    notes.append(f'{sc}/{name} round {r["round"]}: CPU taken from the run by other '
                                 f'programs {others:.0%}, by the hypervisor (steal) {stolen:.0%}: noisy')
                if 'failure' in r:
                    notes.append(f'{sc}/{name} round {r["round"]}: {r["failure"]}')
                elif r.get('co_corrected'):
                    notes.append(f'{sc}/{name} round {r["round"]}: latency is wrk\'s '
                                 'CO-corrected figure (report.lua could not read the raw histogram)')
            if not ok:
                if mine:
                    rows.append(f'| {sc} | {name} | failed | | | | | | | | | | |')
                continue
            ratio_rps = ratio_cpu = '–'
            if 'hyper' in medians and name in medians:
                ratio_rps = f'{medians[name][0] / medians["hyper"][0]:.2f}×'
                ratio_cpu = f'{medians[name][1] / medians["hyper"][1]:.2f}×'
            vs_floor = '–'
            if 'floor' in medians and name in medians:
                vs_floor = f'{medians[name][1] / medians["floor"][1]:.2f}×'
            errors = {}
            for r in ok:
                for kind, n in r['errors'].items():
                    errors[kind] = errors.get(kind, 0) + n
            total = sum(errors.values())
            err = str(total) if not total else f'{total} (' + ', '.join(
                f'{k} {n}' for k, n in errors.items() if n) + ')'
            if total:
                notes.append(explain_errors(sc, name, errors, ok, ports))
            rows.append('| ' + ' | '.join([
                sc, name,
                spread([r['rps'] for r in ok], fmt_num), ratio_rps,
                spread([r['latency_us']['p50'] for r in ok], fmt_us),
                spread([r['latency_us']['p99'] for r in ok], fmt_us),
                spread([r['cpu_us_per_req'] for r in ok], lambda x: f'{x:.2f}'),
                spread([r['user_us_per_req'] for r in ok], lambda x: f'{x:.2f}'), ratio_cpu, vs_floor,
                spread([r['peak_rss_kib'] / 1024 for r in ok], lambda x: f'{x:.1f} MiB'),
                err,
                f'{statistics.median(r["server_cpu_util"] for r in ok):.0%} / '
                f'{statistics.median(r["wrk_cpu_util"] for r in ok):.0%}',
            ]) + ' |')
    if 'close' in settings.scenarios:
        notes.append(close_note(runs, settings, ports))
    return '\n'.join(rows), notes


def cpu_chart(runs: list[dict], settings, notes: list[str]) -> str:
    """SVG: median server CPU µs per request, by scenario and server."""
    groups = []
    for sc in settings.scenarios:
        bars = []
        for name in settings.servers:
            ok = [r['cpu_us_per_req'] for r in runs
                  if r['scenario'] == sc and r['server'] == name and 'rps' in r]
            if ok:
                med = statistics.median(ok)
                bars.append((name, med, f'{med:.2f} µs'))
        if bars:
            groups.append((f'{sc}: {SCENARIOS[sc].about}', bars))
    return chart.grouped_bars(
        'Server CPU time per request (lower is better)',
        f'user + system µs per response, median of {settings.rounds} round(s), '
        f'workers={settings.workers}' + ', ' + pinning(settings),
        groups, note=f'{noisy} run(s) lost over 2 % of the CPU to other programs: noisy, see the table\'s notes.'
        if (noisy := sum('other programs' in n for n in notes)) else '')


def close_note(runs: list[dict], settings, ports: dict) -> str:
    """Says whether the close scenario was bounded by ports, with TIME_WAIT counts."""
    parts = []
    for name in settings.servers:
        tw = [r['time_wait'] for r in runs if r['scenario'] == 'close' and r['server'] == name
              and 'time_wait' in r]
        if tw:
            parts.append(f'{name} {statistics.median(t["client_closed_first"] for t in tw):.0f}/'
                         f'{statistics.median(t["server_closed_first"] for t in tw):.0f}')
    connect_errors = sum(r['errors']['connect'] for r in runs if r['scenario'] == 'close' and 'errors' in r)
    verdict = ('no connect errors, so ephemeral ports did not run out' if not connect_errors else
               f'{connect_errors} connect errors: ports may have run out, distrust these rows')
    return (f'close: tcp_tw_reuse={ports["tcp_tw_reuse"]}, {ports["ephemeral_ports"]} ephemeral ports '
            f'(~{ports["max_new_conn_per_s"]:,} new connections/s at most when wrk closes first); {verdict}. '
            f'TIME_WAIT sockets after the run, on wrk\'s side/the server\'s: ' + ', '.join(parts) + '.')


def explain_errors(sc: str, name: str, errors: dict, ok: list[dict], ports: dict) -> str:
    """A footnote saying what a row's wrk errors most likely mean."""
    why = []
    if errors.get('connect'):
        why.append('connect errors: the server refused or dropped connections '
                   '(accept backlog full) or wrk ran out of ephemeral ports')
    if errors.get('read') and sc == 'close':
        why.append('read errors in close mode: wrk saw the connection end before '
                   'or while reading a response (a reset from the server\'s close)')
    elif errors.get('read'):
        why.append('read errors: connections reset by the server')
    if errors.get('timeout'):
        why.append('timeouts: responses slower than wrk\'s 2 s --timeout, not counted in '
                   'the latency columns (the server left some connections waiting: '
                   'behind the others, or for accept after a full backlog)')
    if errors.get('status'):
        why.append('status: non-2xx/3xx responses')
    if errors.get('write'):
        why.append('write errors: the server closed while wrk was writing')
    tw = [r.get('time_wait') for r in ok if r.get('time_wait')]
    if tw:
        last = tw[-1]
        why.append(f'TIME_WAIT after the run: {last["client_closed_first"]} on wrk\'s side, '
                   f'{last["server_closed_first"]} on the server\'s '
                   f'(of {ports["ephemeral_ports"]} ephemeral ports)')
    return f'{sc}/{name}: ' + '; '.join(why)


def machine_info() -> list[str]:
    """What the numbers were measured on."""
    def first(cmd: list[str]) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return '?'
    cpu = next((ln.split(':', 1)[1].strip() for ln in Path('/proc/cpuinfo').read_text().splitlines()
                if ln.startswith('model name')), '?')
    return [
        f'- date: {datetime.datetime.now().astimezone().isoformat(timespec="seconds")}',
        f'- CPU: {cpu}; nproc {os.cpu_count()}; kernel {platform.release()}',
        f'- wrk: {first(["wrk", "--version"])}',
        f'- rustc: {first(["rustc", "--version"])}; python: {platform.python_version()}',
    ]


def pinning(settings) -> str:
    """Where the server and wrk ran, in words."""
    if not settings.pin:
        return 'unpinned'
    return (f'server on CPU(s) {settings.server_cpus or "any"}, '
            f'wrk on CPU(s) {settings.wrk_cpus or "any"}')


def command_line(settings) -> str:
    """The exact command, with the settings spelled out, to reproduce the table."""
    env = f'SERVERS={",".join(settings.servers)} SCENARIOS={",".join(settings.scenarios)} ' \
          f'ROUNDS={settings.rounds} DURATION={settings.duration}s WARMUP={settings.warmup}s ' \
          f'WORKERS={settings.workers}'
    if settings.workers > 1 and settings.pin:
        env += f' SERVER_CPUS={settings.server_cpus or ""} WRK_CPUS={settings.wrk_cpus or ""}'
    if settings.wrk_threads != 1:
        env += f' WRK_THREADS={settings.wrk_threads}'
    flags = ' --allow-port-exhaustion' if settings.allow_port_exhaustion else ''
    return f'{env} bench/http/run.sh{flags}'


# ------------------------------------------------------------------- main --

def main() -> None:
    settings = parse_settings()
    # SIGTERM/SIGHUP become SystemExit, so `finally` below stops our servers.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))
    ensure_tools(settings)
    commands = build(settings)
    raise_fd_limit(max(SCENARIOS[s].connections for s in settings.scenarios) * 2 + 256)
    if settings.workers == 1 and settings.pin and (os.cpu_count() or 1) < 2:
        fail('pinning needs two CPUs; set WORKERS>1 to run unpinned')

    ports = port_situation()
    if 'close' in settings.scenarios:
        say(f'close scenario: tcp_tw_reuse={ports["tcp_tw_reuse"]}, ephemeral ports '
            f'{ports["ip_local_port_range"]} ({ports["ephemeral_ports"]}): at most '
            f'~{ports["max_new_conn_per_s"]:,} new connections/s before wrk runs out of ports '
            '(when wrk is the side that closes first; a server that closes first leaves '
            'its TIME_WAIT on its own side, where a new SYN may replace it)')
        if ports['tcp_tw_reuse'] not in ('1', '2') and not settings.allow_port_exhaustion:
            say('tcp_tw_reuse is off: the close scenario would measure port exhaustion, '
                'not servers. Skipping it. Enable loopback reuse with '
                '`sysctl -w net.ipv4.tcp_tw_reuse=2`, or pass --allow-port-exhaustion.')
            settings.scenarios = [s for s in settings.scenarios if s != 'close']

    stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M')
    total = settings.rounds * len(settings.scenarios) * len(settings.servers)
    say(f'{total} runs of {settings.warmup}s warmup + {settings.duration}s each; '
        f'workers={settings.workers}, wrk threads={settings.wrk_threads}, ' + pinning(settings))
    runs: list[dict] = []
    try:
        for rnd in range(settings.rounds):
            # Rotate the order each round so no server always runs first or last.
            k = rnd % len(settings.servers)
            order = settings.servers[k:] + settings.servers[:k]
            for sc in settings.scenarios:
                for name in order:
                    tag = f'{stamp}-r{rnd + 1}-{sc}'
                    run = measure(name, commands[name], SCENARIOS[sc], settings, tag)
                    run.update(round=rnd + 1, scenario=sc, server=name)
                    runs.append(run)
                    if 'rps' in run:
                        say(f'round {rnd + 1} {sc:9} {name:7} {run["rps"]:>10,.0f} req/s  '
                            f'p99 {fmt_us(run["latency_us"]["p99"]):>9}  '
                            f'{run["cpu_us_per_req"]:6.2f} CPU µs/req  '
                            f'{run["peak_rss_kib"] / 1024:6.1f} MiB  errors {run["errors_total"]}  '
                            f'CPU server {run["server_cpu_util"]:.0%} wrk {run["wrk_cpu_util"]:.0%}')
                    else:
                        say(f'round {rnd + 1} {sc} {name}: {run.get("failure", "no requests")}')
    finally:
        for server in list(Server.live):
            server.stop()

    body, notes = table(runs, settings, ports)
    RESULTS.mkdir(parents=True, exist_ok=True)
    md, raw = RESULTS / f'http-{stamp}.md', RESULTS / f'http-{stamp}.json'
    doc = [
        f'# HTTP greeting benchmark, {stamp}', '',
        f'Reproduce with: `{command_line(settings)}`', '',
        f'Invoked as: `{shlex.join(["bench/http/run.sh", *sys.argv[1:]])}`', '',
        f'Settings: {settings.rounds} round(s); per run {settings.warmup}s warmup (discarded) + '
        f'{settings.duration}s measured; wrk -t{settings.wrk_threads}; workers={settings.workers}; '
        + pinning(settings) + '.', '',
        *machine_info(),
        f'- loopback: tcp_tw_reuse={ports["tcp_tw_reuse"]}, ip_local_port_range='
        f'{ports["ip_local_port_range"]}, tcp_fin_timeout={ports["tcp_fin_timeout"]}', '',
        'Scenarios: ' + '; '.join(f'`{s}` = {SCENARIOS[s].about}' for s in settings.scenarios) + '.', '',
        'Medians across rounds, (min–max) when more than one round. Pipelined latency is per '
        f'batch of {PIPELINE_DEPTH}. Errors are summed over rounds. See bench/README.md.', '',
        body, '',
        *(['Notes:', ''] + [f'- {n}' for n in notes] + [''] if notes else []),
        f'Raw runs: `{raw.relative_to(ROOT)}`', '',
    ]
    svg = RESULTS / f'http-{stamp}.svg'
    doc.insert(doc.index(body), f'![CPU per request]({svg.name})\n')
    md.write_text('\n'.join(doc))
    svg.write_text(cpu_chart(runs, settings, notes))
    # A stable path for README to embed: the latest run's chart.
    (RESULTS / 'http-latest.svg').write_text(svg.read_text())
    raw.write_text(json.dumps({'settings': {k: v for k, v in vars(settings).items()},
                               'ports': ports, 'runs': runs}, indent=1) + '\n')
    print(body)
    if notes:
        print('\nNotes:\n' + '\n'.join(f'- {n}' for n in notes))
    say(f'wrote {md.relative_to(ROOT)}, {svg.relative_to(ROOT)} and {raw.relative_to(ROOT)}')


if __name__ == '__main__':
    main()
