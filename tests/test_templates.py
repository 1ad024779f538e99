"""Template source rules that Django does not check itself."""

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def test_no_comment_spans_lines():
    """Django's {# … #} comment is one line only: one that spans lines is shown as text
    (base.html's once printed itself at the top of every page). Use {% comment %} there."""
    opened_unclosed = re.compile(r"\{#(?!.*#\})")
    found = [
        f"{path.relative_to(TEMPLATES)}:{number}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if opened_unclosed.search(line)
    ]
    assert found == []
