"""Hand-written SVG bar charts for the bench reports (Python stdlib only).

One kind of chart: horizontal bars grouped by scenario, one bar per server,
each bar labelled with its value. Horizontal bars keep long server names readable
and let the values sit at the bar ends. Used by `bench/http/run.py`
(CPU µs per request) and `bench/instr/instr.py` (instructions and system
calls per request); `runtime-bench/src/report.rs` draws the same shape in Rust.
"""

from __future__ import annotations

from html import escape

# One colour per server, fixed so the same server looks the same in every chart.
COLOURS = {
    'floor': '#7f7f7f', 'eddy': '#d62728', 'hyper': '#1f77b4', 'tokio-httparse': '#2ca02c',
    'std': '#9467bd', 'aiohttp': '#8c564b', 'tokio': '#1f77b4', 'smol': '#ff7f0e',
}
SPARE = ['#17becf', '#bcbd22', '#e377c2', '#8c564b']

BAR_H = 18      # px per bar
GAP = 14        # px between groups
LABEL_W = 130   # px for the server names on the left
PLOT_W = 460    # px for the longest bar
CHAR_W = 7      # px per character of a 12 px sans-serif label, roughly
FONT = 'font-family="sans-serif" font-size="12"'


def colour(name: str, i: int) -> str:
    return COLOURS.get(name, SPARE[i % len(SPARE)])


def grouped_bars(title: str, unit: str, groups: list[tuple[str, list[tuple[str, float, str]]]],
                 note: str = '') -> str:
    """An SVG document: `groups` is [(group title, [(bar label, value, value text)])].

    Every group shares one scale unless its values differ from the largest by
    more than 20×, in which case each group gets its own (pipelined and
    new-connection costs differ by that much; one scale would flatten one).
    """
    values = [v for _, bars in groups for _, v, _ in bars if v > 0]
    top = max(values, default=1.0)
    per_group = any(max((v for _, v, _ in bars), default=0) * 20 < top for _, bars in groups)
    y = 44
    parts: list[str] = []
    for g, (gname, bars) in enumerate(groups):
        scale_top = max((v for _, v, _ in bars), default=1.0) if per_group else top
        scale_top = scale_top or 1.0
        parts.append(f'<text x="8" y="{y + 12}" {FONT} font-weight="bold">{escape(gname)}</text>')
        y += 18
        for i, (label, value, text) in enumerate(bars):
            w = max(1.0, PLOT_W * value / scale_top) if value > 0 else 0
            parts.append(f'<text x="{LABEL_W - 6}" y="{y + 13}" {FONT} text-anchor="end">{escape(label)}</text>')
            parts.append(f'<rect x="{LABEL_W}" y="{y + 2}" width="{w:.1f}" height="{BAR_H - 4}" '
                         f'fill="{colour(label, i)}"><title>{escape(label)}: {escape(text)}</title></rect>')
            parts.append(f'<text x="{LABEL_W + w + 5:.1f}" y="{y + 13}" {FONT}>{escape(text)}</text>')
            y += BAR_H
        y += GAP
    if per_group:
        note = (note + ' ' if note else '') + 'Each group has its own scale.'
    if note:
        parts.append(f'<text x="8" y="{y + 8}" {FONT} fill="#555">{escape(note)}</text>')
        y += 16
    # Room right of the longest bar for the longest value label.
    value_w = 12 + CHAR_W * max((len(t) for _, bars in groups for _, _, t in bars), default=8)
    width = LABEL_W + PLOT_W + value_w
    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y + 8}" '
        f'viewBox="0 0 {width} {y + 8}">',
        f'<rect width="100%" height="100%" fill="white"/>',
        f'<text x="8" y="20" font-family="sans-serif" font-size="15" font-weight="bold">{escape(title)}</text>',
        f'<text x="8" y="36" {FONT} fill="#555">{escape(unit)}</text>',
    ]
    return '\n'.join(head + parts + ['</svg>']) + '\n'
