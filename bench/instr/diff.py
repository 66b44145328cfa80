#!/usr/bin/env python3
"""Where did the instructions go? Compares two `bench/instr` runs by function.

    bench/instr/diff.py OLD_LOGS NEW_LOGS [SERVER [SCENARIO]]

OLD_LOGS and NEW_LOGS are the log directories two runs of `bench/instr/run.sh`
printed (and wrote at the end of their result files). For each server and
scenario both ran, it prints the marginal instructions per request of each
run and the functions whose marginal self cost changed most, so a change that
moved a count can be traced to the code that moved it. Both runs must have
used the same N1 and N2 (the callgrind files are named after them).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import instr  # noqa: E402  (bench/instr/instr.py: per_function)

TOP = 15


def marginal(logs: Path, server: str, scenario: str) -> dict[str, float] | None:
    """Per-function marginal self instructions per request, from one run's files."""
    outs = sorted(logs.glob(f'instr-{server}-{scenario}-*.out'),
                  key=lambda p: int(p.name.rsplit('-', 1)[1].removesuffix('.out')))
    if len(outs) < 2:
        return None
    n1, n2 = (int(p.name.rsplit('-', 1)[1].removesuffix('.out')) for p in (outs[0], outs[-1]))
    a, b = instr.per_function(outs[0]), instr.per_function(outs[-1])
    return {f: (b.get(f, 0) - a.get(f, 0)) / (n2 - n1) for f in set(a) | set(b)}


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    old, new = Path(sys.argv[1]), Path(sys.argv[2])
    pairs = sorted({m.groups() for p in new.glob('instr-*.out')
                    if (m := re.match(r'instr-(.+)-(keepalive|pipelined|close)-\d+\.out$', p.name))})
    for server, scenario in pairs:
        if sys.argv[3:4] not in ([], [server]) or sys.argv[4:5] not in ([], [scenario]):
            continue
        before, after = marginal(old, server, scenario), marginal(new, server, scenario)
        if before is None or after is None:
            continue
        print(f'{server}, {scenario}: {sum(before.values()):,.0f} -> {sum(after.values()):,.0f} '
              'instructions per request')
        changes = sorted(((after.get(f, 0) - before.get(f, 0), f) for f in set(before) | set(after)),
                         key=lambda t: -abs(t[0]))
        print(f'  {"change":>8} {"before":>8} {"after":>8}  function')
        for delta, f in changes[:TOP]:
            print(f'  {delta:+8.1f} {before.get(f, 0):8.1f} {after.get(f, 0):8.1f}  {f[:120]}')
        print()


if __name__ == '__main__':
    main()
