"""The workflow as an SVG diagram, drawn on the server (no JavaScript library).

Layout: routes that go back to a step already on the path from the start (found by a
depth-first walk) are loop-backs; without them the graph is acyclic, and each step's column is
its longest distance from the start. Forward routes are drawn left to right; loop-backs as
dashed curves under the steps. Routes between the same two steps share one arrow whose label
lists their outcomes, and a route's condition follows its outcome ("passed: accuracy >= 0.9";
the default of a conditional outcome says "otherwise"). On a run page the current step(s) are
highlighted and finished steps show their last outcome. In the editor, a step with validation
problems is outlined with its messages as its <title>, and a dry run's path is highlighted.
"""

from collections import defaultdict
from dataclasses import dataclass
from html import escape

from django.utils.safestring import SafeString, mark_safe

from .models import FAILURE_OUTCOMES, Route, Step, StepKind, WorkflowTemplate

NODE_W, NODE_H = 200, 58
GAP_X, GAP_Y = 72, 34
LANE = 24  # vertical distance between loop-back lanes
MARGIN = 24
END = "end"
LABELS = {"changes_requested": "changes requested"}


@dataclass(frozen=True)
class StepState:
    """How far a run got with a step: 'current' (open task) or 'done', and what came out."""

    status: str
    outcome: str = ""
    iteration: int = 1


@dataclass(frozen=True)
class Heat:
    """Figures drawn over a template (the insight page): each step's colour class 0-4 (by its
    median time) with the text saying it, each arrow's width from the runs that took it, and
    each loop-back's rate as its label. Text always accompanies the colour."""

    levels: dict  # step id → 0..4
    texts: dict  # step id → "median 2 d 4 h"
    edge_runs: dict  # (from id, to id | END) → count
    loop_rates: dict  # (from id, to id) → "25%"


@dataclass(frozen=True)
class Marks:
    """What the editor draws over a template: each step's validation problems (step id → the
    sentences) and a dry run's path (step ids, (from id, to id | END) arrows)."""

    problems: dict
    path_steps: frozenset = frozenset()
    path_edges: frozenset = frozenset()


def render(
    template: WorkflowTemplate,
    *,
    steps: list[Step] | None = None,
    routes: list[Route] | None = None,
    states: dict[int, StepState] | None = None,
    finished: bool = False,
    heat: Heat | None = None,
    marks: Marks | None = None,
) -> SafeString:
    """SVG markup for the template (optionally with a run's progress, with insight's figures
    as a heat map, or with the editor's marks); safe to embed."""
    steps = steps if steps is not None else list(template.steps.select_related("required_skill"))
    routes = routes if routes is not None else list(template.routes.all())
    states = states or {}
    if not steps:
        return mark_safe('<p class="muted">No steps yet.</p>')
    layout = _layout(steps, routes)
    return mark_safe(_draw(steps, routes, layout, states, finished, template.name, heat, marks))


def loop_backs(steps: list[Step], routes: list[Route]) -> set:
    """The (from step id, to step id) pairs the diagram draws as loop-backs: routes back to a
    step already on the path from the start."""
    return {pair for pair in _layout(steps, routes).back if pair[1] != END}


@dataclass
class _Layout:
    pos: dict  # node id → (x, y)
    back: set  # (from id, to id) pairs drawn as loop-backs
    skips: list  # forward (from id, to id) pairs that jump columns: drawn over the top
    width: int
    height: int
    baseline: int  # y under every node, where loop-backs run
    ceiling: int  # y over every node, where column-jumping routes run


def _layout(steps: list[Step], routes: list[Route]) -> _Layout:
    # A condition's label sits between two columns: widen the gap so it doesn't cover a step.
    longest = max(
        (len(r.outcome) + len(r.condition or "") + 2 for r in routes if r.condition), default=0
    )
    gap = max(GAP_X, min(6.9 * min(longest, 44) + 24, 330))
    ids = [s.pk for s in steps]
    out: dict = defaultdict(list)
    for r in routes:
        target = r.to_step_id or END
        if target not in out[r.from_step_id]:
            out[r.from_step_id].append(target)
    start = next((s.pk for s in steps if s.is_start), ids[0])

    # Depth-first from the start: an edge to a step still on the stack is a loop-back.
    back: set = set()
    order: list = []
    state: dict = {}

    def visit(node):
        state[node] = "open"
        order.append(node)
        for nxt in out.get(node, []):
            if state.get(nxt) == "open":
                back.add((node, nxt))
            elif nxt not in state:
                visit(nxt)
        state[node] = "closed"

    visit(start)
    for node in [*ids, END]:
        if node not in state:
            visit(node)

    # Longest path from the start over forward edges (Kahn's order).
    forward = [(a, b) for a in out for b in out[a] if (a, b) not in back]
    indegree: dict = defaultdict(int)
    for _, b in forward:
        indegree[b] += 1
    layer = dict.fromkeys(order, 0)
    queue = [n for n in order if indegree[n] == 0]
    while queue:
        node = queue.pop(0)
        for a, b in forward:
            if a == node:
                layer[b] = max(layer[b], layer[node] + 1)
                indegree[b] -= 1
                if indegree[b] == 0:
                    queue.append(b)
    # Forward routes that jump over a column go over the top, in their own lanes.
    skips = sorted(
        {(a, b) for a, b in forward if layer[b] - layer[a] > 1},
        key=lambda pair: layer[pair[1]] - layer[pair[0]],
    )
    top_space = 16 + LANE * len(skips) if skips else 0
    columns: dict = defaultdict(list)
    for node in order:
        columns[layer[node]].append(node)
    tallest = max(len(c) for c in columns.values())
    column_height = tallest * NODE_H + (tallest - 1) * GAP_Y
    pos = {}
    for col, nodes in columns.items():
        height = len(nodes) * NODE_H + (len(nodes) - 1) * GAP_Y
        top = MARGIN + 14 + top_space + (column_height - height) / 2
        for i, node in enumerate(nodes):
            pos[node] = (MARGIN + col * (NODE_W + gap), top + i * (NODE_H + GAP_Y))
    baseline = MARGIN + 14 + top_space + column_height
    loops = len({pair for pair in back if pair[0] != pair[1]})  # a step's route to itself: a tag
    right = max(x + (40 if node == END else NODE_W) for node, (x, _) in pos.items())
    width = right + MARGIN
    height = baseline + (16 + LANE * loops if loops else 0) + MARGIN
    return _Layout(
        pos=pos,
        back=back,
        skips=skips,
        width=width,
        height=int(height),
        baseline=int(baseline),
        ceiling=MARGIN + 14 + top_space,
    )


def _label(routes: list, conditional: set) -> str:
    """The arrow's text: its routes' outcomes, each with its condition ("otherwise" for the
    default of an outcome whose other routes have conditions)."""
    texts = []
    for route in routes:
        text = LABELS.get(route.outcome, route.outcome)
        condition = (route.condition or "").strip()
        if condition:
            text = f"{text}: {condition}"
        elif (route.from_step_id, route.outcome) in conditional:
            text = f"{text}: otherwise"
        if text not in texts:
            texts.append(text)
    return " / ".join(texts)


def _text_box(x: float, y: float, text: str, cls: str) -> str:
    shown = _clip(text, 44)
    width = 6.9 * len(shown) + 10
    title = f"<title>{escape(text)}</title>" if shown != text else ""
    return (
        f'<g class="label {cls}">{title}<rect x="{x - width / 2:.0f}" y="{y - 9:.0f}" '
        f'width="{width:.0f}" height="16" rx="3"/>'
        f'<text x="{x:.0f}" y="{y + 3:.0f}" text-anchor="middle">{escape(shown)}</text></g>'
    )


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def _width(heat: "Heat | None", pair) -> str:
    """An arrow's width class (w0 thinnest … w4) from the runs that took it, relative to the
    busiest arrow; a class, not an attribute, because the stylesheet sets every edge's width
    (and the Content-Security-Policy allows no inline style)."""
    if heat is None:
        return ""
    top = max(heat.edge_runs.values(), default=0)
    runs = heat.edge_runs.get(pair, 0)
    level = 0 if not top or not runs else 1 + min(3, int(4 * runs / top - 1e-9))
    return f" w{level}"


def _draw(
    steps, routes, layout: _Layout, states, finished: bool, title: str, heat=None, marks=None
) -> str:
    pos = layout.pos
    path_edges = marks.path_edges if marks is not None else frozenset()
    # Scales down to the page width (never up: svg.wf in workflows.css), so every step stays
    # in view. Its styles are in workflows.css too: the Content-Security-Policy allows no <style>.
    parts = [
        f'<svg class="wf" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {layout.width} {layout.height}" width="{layout.width}" '
        f'aria-label="{escape(title)}: steps and routes">',
        # Arrowheads in the diagram's own units: sized by the stroke (the default), the heat
        # map's thick arrows grew heads that hid the labels beside them.
        '<defs><marker id="wf-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="10" '
        'markerHeight="10" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        '<path d="M0,0L10,5L0,10z" fill="#64748b"/>'
        '</marker><marker id="wf-arrow-loop" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="10" markerHeight="10" markerUnits="userSpaceOnUse" '
        'orient="auto-start-reverse">'
        '<path d="M0,0L10,5L0,10z" fill="#ea580c"/></marker></defs>',
    ]
    grouped: dict = defaultdict(list)
    conditional = {(r.from_step_id, r.outcome) for r in routes if (r.condition or "").strip()}
    for r in routes:
        grouped[(r.from_step_id, r.to_step_id or END)].append(r)

    labels = []
    # Loop-backs run in lanes under the steps, shortest span in the top lane; several arriving
    # at one step enter it side by side.
    loops = sorted(
        (
            pair
            for pair in grouped
            if pair in layout.back and pair[0] in pos and pair[1] in pos and pair[0] != pair[1]
        ),
        key=lambda pair: abs(pos[pair[0]][0] - pos[pair[1]][0]),
    )
    lane = {pair: i for i, pair in enumerate(loops)}
    # The longest loop into a step (deepest lane) enters it furthest left, so none cross.
    entry = {}
    for target in {b for _, b in loops}:
        into = [pair for pair in reversed(loops) if pair[1] == target]
        entry.update({pair: i for i, pair in enumerate(into)})
    for (a, b), grouped_routes in grouped.items():
        if a not in pos or b not in pos:
            continue
        ax, ay = pos[a]
        bx, by = pos[b]
        text = _label(grouped_routes, conditional)
        on_path = " on-path" if (a, b) in path_edges else ""
        cond = " cond" if any((r.condition or "").strip() for r in grouped_routes) else ""
        if a == b:
            # A step that runs again on an outcome (a sub-workflow retried): a tag on its edge.
            text = f"↻ {text}"
            labels.append(_text_box(ax + NODE_W - 14 - 3.45 * len(text), ay, text, "loop"))
        elif (a, b) in layout.back:
            depth = layout.baseline + 16 + LANE * lane[(a, b)]
            sx, sy = ax + NODE_W / 2 + 20, ay + NODE_H
            tx, ty = bx + 24 + 16 * entry[(a, b)], by + NODE_H
            r = 8
            if heat is not None and (a, b) in heat.loop_rates:
                text = f"{text} · {heat.loop_rates[(a, b)]}"
            parts.append(
                f'<path class="edge loop{_width(heat, (a, b))}{on_path}" '
                f'marker-end="url(#wf-arrow-loop)" '
                f'd="M{sx:.0f},{sy:.0f} V{depth - r:.0f} Q{sx:.0f},{depth:.0f} '
                f"{sx - r:.0f},{depth:.0f} H{tx + r:.0f} Q{tx:.0f},{depth:.0f} "
                f'{tx:.0f},{depth - r:.0f} V{ty + 2:.0f}"/>'
            )
            shown = min(len(text), 44)
            labels.append(_text_box(sx - 22 - 3.2 * shown, depth, text, f"loop{cond}"))
        elif (a, b) in layout.skips:
            depth = layout.ceiling - 16 - LANE * layout.skips.index((a, b))
            sx, sy = ax + NODE_W / 2 + 20, ay
            tx = bx + 20 if b == END else bx + NODE_W / 2
            ty = by + NODE_H / 2 - 20 if b == END else by
            r = 8
            parts.append(
                f'<path class="edge{_width(heat, (a, b))}{on_path}" marker-end="url(#wf-arrow)" '
                f'd="M{sx:.0f},{sy:.0f} V{depth + r:.0f} Q{sx:.0f},{depth:.0f} '
                f"{sx + r:.0f},{depth:.0f} H{tx - r:.0f} Q{tx:.0f},{depth:.0f} "
                f'{tx:.0f},{depth + r:.0f} V{ty - 2:.0f}"/>'
            )
            shown = min(len(text), 44)
            labels.append(_text_box(sx + 14 + 3.2 * shown, depth, text, cond.strip()))
        else:
            sx, sy = ax + NODE_W, ay + NODE_H / 2
            tx, ty = bx, by + NODE_H / 2
            mid = (sx + tx) / 2
            parts.append(
                f'<path class="edge{_width(heat, (a, b))}{on_path}" marker-end="url(#wf-arrow)" '
                f'd="M{sx:.0f},{sy:.0f} C{mid:.0f},{sy:.0f} '
                f'{mid:.0f},{ty:.0f} {tx - 2:.0f},{ty:.0f}"/>'
            )
            labels.append(_text_box(mid, (sy + ty) / 2, text, cond.strip()))

    for step in steps:
        x, y = pos[step.pk]
        parts.append(_node(step, x, y, states.get(step.pk), heat, marks))
    if END in pos:
        x, y = pos[END]
        reached = " reached" if finished else ""
        if any(edge[1] == END for edge in path_edges):
            reached += " on-path"
        parts.append(
            f'<g class="end{reached}" data-step="END">'
            f'<circle cx="{x + 20}" cy="{y + NODE_H / 2}" r="20"/>'
            f'<text x="{x + 20}" y="{y + NODE_H / 2 + 4}" text-anchor="middle">END</text></g>'
        )
    parts.extend(labels)
    parts.append("</svg>")
    return "".join(parts)


def _node(step: Step, x: float, y: float, state: StepState | None, heat=None, marks=None) -> str:
    classes = ["node", step.kind]
    status = ""
    problems = marks.problems.get(step.pk, []) if marks is not None else []
    if problems:
        classes.append("problem")
    if marks is not None and step.pk in marks.path_steps:
        classes.append("on-path")
    if heat is not None:
        level = heat.levels.get(step.pk)
        classes.append(f"heat-{level}" if level is not None else "heat-none")
        status = heat.texts.get(step.pk, "no tasks")
    if state is not None:
        classes.append(state.status)
        if state.status == "done":
            bad = state.outcome in FAILURE_OUTCOMES
            if bad:
                classes.append("bad")
            status = f"{'✗' if bad else '✓'} {LABELS.get(state.outcome, state.outcome)}"
        else:
            status = "● now"
        if state.iteration > 1:
            status += f" · #{state.iteration}"
    meta = {
        StepKind.REVIEW: "review",
        StepKind.AUTOMATED: "automated",
        StepKind.EXTERNAL: f"waits for {step.system}" if step.system else "external",
        StepKind.SUBWORKFLOW: f"runs {step.subworkflow}" if step.subworkflow else "sub-workflow",
    }.get(step.kind, "pass/fail" if step.manual_outcomes == "pass_fail" else "manual")
    if step.required_skill_id and step.kind not in (StepKind.AUTOMATED, StepKind.EXTERNAL):
        meta += f" · {step.required_skill.slug}"
    title = "\n".join([step.name, *problems])
    out = [
        f'<g class="{" ".join(classes)}" data-step="{escape(step.key)}">',
        f"<title>{escape(title)}</title>",
    ]
    if step.is_join:
        out.append(
            f'<rect class="join" x="{x - 4}" y="{y - 4}" width="{NODE_W + 8}" '
            f'height="{NODE_H + 8}" rx="10"/>'
            f'<text class="tag" x="{x + NODE_W - 4}" y="{y - 8}" text-anchor="end">JOIN</text>'
        )
    if step.is_start:
        out.append(f'<text class="start" x="{x}" y="{y - 8}">START</text>')
    if step.is_split:
        out.append(
            f'<text class="tag" x="{x + NODE_W - 4}" y="{y - 8}" text-anchor="end">SPLIT</text>'
        )
    out.append(f'<rect class="box" x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="7"/>')
    out.append(
        f'<text class="name" x="{x + 10}" y="{y + 20}">{escape(_clip(step.name, 25))}</text>'
    )
    out.append(f'<text class="meta" x="{x + 10}" y="{y + 36}">{escape(_clip(meta, 27))}</text>')
    if problems:
        count = f"⚠ {len(problems)} problem{'s' if len(problems) != 1 else ''}"
        out.append(f'<text class="problem-text" x="{x + 10}" y="{y + 51}">{count}</text>')
    elif status:
        out.append(f'<text class="status" x="{x + 10}" y="{y + 51}">{escape(status)}</text>')
    out.append("</g>")
    return "".join(out)
