"""The outbox sits below the other Relay apps: they call it, it imports none of them."""

import ast
from pathlib import Path

import apps.notifications

ABOVE = ("apps.people", "apps.tasks", "apps.workflows", "apps.assignment", "apps.boards")


def imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_the_outbox_imports_no_other_relay_app():
    root = Path(apps.notifications.__file__).parent
    found = [
        f"{path.relative_to(root)} imports {name}"
        for path in sorted(root.rglob("*.py"))
        for name in imports(path)
        if name.startswith(ABOVE)
    ]
    assert found == []
