"""A small server-rendered SVG chart kit: no script, no CDN.

Every chart is an <svg role="img"> with a <title> and <desc>, direct labels at the end of each
line, a dash style per series (so colour is never the only cue) and colours from CSS variables
(--chart-1 … --chart-6, --chart-ink, --chart-grid) that the page's light and dark themes set.

    line_chart(series={"Ann": [1, 2]}, x_labels=["1 Dec", "2 Dec"], title=..., desc=...,
               limits={"Ann": 3})                 # dashed horizontal reference lines
    stacked_area(series={...}, x_labels=[...], title=..., desc=...)
    bars(values=[3, 5], x_labels=["W48", "W49"], title=..., desc=...)
    scatter(points=[(x_index, y)], x_labels=[...], title=..., desc=..., lines={"p50": 2.0})

Each returns SafeString markup; the numbers behind it belong in a table next to it.
"""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 640, 240, 40, 130, 14, 28
LABEL_CHARS = 18  # a longer end label's name is cut (…), its number kept, to fit the chart
DASHES = ["", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 2 1 2"]
COLOURS = len(DASHES)  # --chart-1 … --chart-7: the seven board states each get their own
LABEL_GAP = 12  # px between two end labels' baselines (the font is 11 px)


def _end_labels(labels: list[tuple[float, str, str]]) -> list[str]:
    """Labels at the right end of the plot, [(wanted y, text, css class)], moved apart so that
    none overlaps the next: each keeps its place where there is room, close ones are pushed
    down (then up from the bottom edge), in the order of their values."""
    ordered = sorted(labels, key=lambda label: label[0])
    ys: list[float] = []
    for wanted, _text, _cls in ordered:
        ys.append(max(wanted, ys[-1] + LABEL_GAP) if ys else max(wanted, PAD_T + 4))
    bottom = H - PAD_B + 4  # the zero line's label, as it would sit unmoved
    for i in range(len(ys) - 1, -1, -1):
        limit = bottom if i == len(ys) - 1 else ys[i + 1] - LABEL_GAP
        ys[i] = min(ys[i], limit)
    out = []
    for y, (_wanted, text, cls) in zip(ys, ordered, strict=True):
        css = f' class="{cls}"' if cls else ""
        name, _, value = text.rpartition(" ")
        shown = (
            text if len(text) <= LABEL_CHARS else f"{name[: LABEL_CHARS - len(value) - 2]}… {value}"
        )
        out.append(
            f'<text x="{W - PAD_R + 4}" y="{y:.1f}"{css}><title>{escape(text)}</title>'
            f"{escape(shown)}</text>"
        )
    return out


def _scale(top: float):
    top = top or 1
    plot_w, plot_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def x(i: float, n: int) -> float:
        return PAD_L + (plot_w * i / max(n - 1, 1))

    def y(v: float) -> float:
        return PAD_T + plot_h * (1 - v / top)

    return x, y


def _slot(i: int, n: int) -> float:
    """The centre of the i-th of n equal slots across the plot: a bar stays inside it."""
    return PAD_L + (W - PAD_L - PAD_R) * (i + 0.5) / max(n, 1)


def _frame(
    title: str, desc: str, body: list[str], top: float, x_labels: list[str], slots=False
) -> SafeString:
    x, y = _scale(top)
    n = len(x_labels)
    step = max(1, n // 8)
    at = _slot if slots else x
    ticks = [
        f'<text x="{at(i, n):.1f}" y="{H - 8}" text-anchor="middle">{escape(label)}</text>'
        for i, label in enumerate(x_labels)
        if i % step == 0
    ]
    grid = [
        f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="grid"/>'
        f'<text x="{PAD_L - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g}</text>'
        for v in (0, top / 2, top)
    ]
    return mark_safe(
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}" '
        f'preserveAspectRatio="xMinYMin meet"><title>{escape(title)}</title>'
        f"<desc>{escape(desc)}</desc>{''.join(grid)}{''.join(ticks)}{''.join(body)}</svg>"
    )


def _top(values) -> float:
    return max([0, *values]) or 1


def line_chart(*, series: dict, x_labels: list, title: str, desc: str, limits=None) -> SafeString:
    limits = limits or {}
    top = _top([v for vs in series.values() for v in vs] + list(limits.values()))
    x, y = _scale(top)
    n, body, labels = len(x_labels), [], []
    for k, (name, values) in enumerate(series.items()):
        c, dash = k % COLOURS + 1, DASHES[k % COLOURS]
        pts = " ".join(f"{x(i, n):.1f},{y(v):.1f}" for i, v in enumerate(values))
        body.append(
            f'<polyline points="{pts}" fill="none" class="stroke-{c}" stroke-width="2" '
            f'stroke-dasharray="{dash}"><title>{escape(name)}</title></polyline>'
        )
        if values:
            labels.append((y(values[-1]) + 4, f"{name} {values[-1]:g}", f"fill-{c}"))
        if name in limits:
            body.append(
                f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y(limits[name]):.1f}" '
                f'y2="{y(limits[name]):.1f}" class="stroke-{c}" stroke-dasharray="2 6" '
                f'stroke-width="1"><title>{escape(name)} limit {limits[name]}</title></line>'
            )
    return _frame(title, desc, body + _end_labels(labels), top, x_labels)


def stacked_area(*, series: dict, x_labels: list, title: str, desc: str) -> SafeString:
    n = len(x_labels)
    totals = [sum(vs[i] for vs in series.values()) for i in range(n)]
    top = _top(totals)
    x, y = _scale(top)
    below, body, labels = [0] * n, [], []
    for k, (name, values) in enumerate(series.items()):
        upper = [below[i] + values[i] for i in range(n)]
        pts = [f"{x(i, n):.1f},{y(upper[i]):.1f}" for i in range(n)]
        pts += [f"{x(i, n):.1f},{y(below[i]):.1f}" for i in reversed(range(n))]
        c = k % COLOURS + 1
        body.append(
            f'<polygon points="{" ".join(pts)}" class="fill-{c} area" '
            f' stroke-width="0.5"><title>{escape(name)}</title></polygon>'
        )
        if n and values[-1]:
            labels.append((y((below[-1] + upper[-1]) / 2) + 4, f"{name} {values[-1]}", ""))
        below = upper
    return _frame(title, desc, body + _end_labels(labels), top, x_labels)


def bars(*, values: list, x_labels: list, title: str, desc: str) -> SafeString:
    top = _top(values)
    _x, y = _scale(top)
    n, body = len(values), []
    width = (W - PAD_L - PAD_R) / max(n, 1) * 0.6
    for i, v in enumerate(values):
        cx = _slot(i, n)
        body.append(
            f'<rect x="{cx - width / 2:.1f}" y="{y(v):.1f}" width="{width:.1f}" '
            f'height="{y(0) - y(v):.1f}" class="fill-1"><title>{escape(x_labels[i])}: {v}'
            f'</title></rect><text x="{cx:.1f}" y="{y(v) - 3:.1f}" text-anchor="middle">{v}</text>'
        )
    return _frame(title, desc, body, top, x_labels, slots=True)


def scatter(*, points: list, x_labels: list, title: str, desc: str, lines=None) -> SafeString:
    lines = lines or {}
    top = _top([p[1] for p in points] + [v for v in lines.values() if v is not None])
    x, y = _scale(top)
    n, body, labels = len(x_labels), [], []
    for xi, v in points:
        body.append(f'<circle cx="{x(xi, n):.1f}" cy="{y(v):.1f}" r="3" class="fill-1"/>')
    for k, (name, v) in enumerate(lines.items()):
        if v is None:
            continue
        body.append(
            f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'class="stroke-{k + 2}" stroke-dasharray="{DASHES[k + 1]}"/>'
        )
        labels.append((y(v) + 4, f"{name} {v:g}", ""))
    return _frame(title, desc, body + _end_labels(labels), top, x_labels)


def table(*, heads: list[str], rows: list[tuple]) -> SafeString:
    """A chart's numbers as an HTML table, built here rather than by template loops: a year
    of days for seven states is thousands of cells (the template took most of the page's
    time drawing them)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in heads)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return mark_safe(f"<table><tr>{head}</tr>\n{body}</table>")
