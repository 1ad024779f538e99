"""The SVG chart kit: what a reader of the chart can tell apart."""

import re
from itertools import pairwise

from apps.insight import charts
from apps.tasks.models import LIFECYCLE_ORDER

DAYS = ["1 Dec", "2 Dec", "3 Dec"]


def end_label_ys(svg: str) -> list[float]:
    x = charts.W - charts.PAD_R + 4
    return sorted(float(y) for y in re.findall(rf'<text x="{x}" y="([\d.]+)"', svg))


def test_end_labels_of_close_lines_do_not_overlap():
    svg = charts.line_chart(
        series={"Ann": [1, 2, 3], "Bob": [1, 2, 3], "Cy": [0, 1, 3], "Di": [0, 0, 0]},
        x_labels=DAYS,
        title="Load",
        desc="",
    )
    ys = end_label_ys(svg)
    assert len(ys) == 4
    assert all(b - a >= charts.LABEL_GAP for a, b in pairwise(ys))
    assert all(charts.PAD_T <= y <= charts.H - charts.PAD_B + 4 for y in ys)


def test_end_labels_of_thin_cumulative_flow_bands_do_not_overlap():
    series = {state: [0, 0, 1] for state in LIFECYCLE_ORDER}
    series["done"] = [10, 20, 300]
    svg = charts.stacked_area(series=series, x_labels=DAYS, title="Cumulative flow", desc="")
    ys = end_label_ys(svg)
    assert len(ys) == len(LIFECYCLE_ORDER)
    assert all(b - a >= charts.LABEL_GAP for a, b in pairwise(ys))


def test_a_label_with_room_stays_beside_its_line():
    svg = charts.line_chart(
        series={"Ann": [0, 0, 10], "Bob": [0, 0, 0]}, x_labels=DAYS, title="t", desc=""
    )
    _x, y = charts._scale(10)
    assert end_label_ys(svg) == [round(y(10) + 4, 1), round(y(0) + 4, 1)]


def test_every_board_state_has_its_own_colour_in_the_cumulative_flow():
    series = {state: [1, 1, 1] for state in LIFECYCLE_ORDER}
    svg = charts.stacked_area(series=series, x_labels=DAYS, title="Cumulative flow", desc="")
    colours = re.findall(r'<polygon [^>]*class="(fill-\d+) area"', svg)
    assert len(colours) == len(LIFECYCLE_ORDER) == len(set(colours))


def test_a_long_name_is_cut_but_its_number_is_kept():
    svg = charts.line_chart(
        series={"Katherine Johnson-Goble": [1, 2, 3]}, x_labels=DAYS, title="Load", desc=""
    )
    assert "Katherine Johns… 3</text>" in svg
    assert "<title>Katherine Johnson-Goble 3</title>" in svg
