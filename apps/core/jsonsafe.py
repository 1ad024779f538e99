"""Reading JSON that people send: bounded in size and depth, and only what a database stores.

`json.loads` recurses once per level of nesting (a few thousand `[` end in RecursionError),
reads `NaN` and `Infinity` (which no JSON column accepts) and `"\\u0000"` or a lone surrogate
(which no text column accepts). `loads` refuses each of these with a sentence, before or while
parsing, so that a caller never has to catch more than `UnsafeJSON`.
"""

import json
import math
import re
from typing import Any

# Strings are skipped when counting brackets: a "[" inside a name is not nesting.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class UnsafeJSON(ValueError):
    """A JSON document refused; str() is the rest of a sentence about it ("is not valid JSON: …"),
    for the caller to begin with what it is ("Inputs", "The file")."""


def _reject_constant(name: str) -> Any:
    raise UnsafeJSON(f"holds {name}, which is not a number JSON allows: use a finite number.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UnsafeJSON(f"holds {text[:20]}, too large a number: use a finite number.")
    return value


def _check_depth(text: str, *, max_depth: int) -> None:
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub('""', text)):
        if bracket.group() in "[{":
            depth += 1
            if depth > max_depth:
                raise UnsafeJSON(f"is nested more than {max_depth} levels deep.")
        else:
            depth -= 1


def check_text(value: Any) -> None:
    """Every string and key storable as text: no NUL character, no lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise UnsafeJSON("holds a NUL character (\\u0000), which text can't hold.")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise UnsafeJSON(
                    "holds a broken character (a lone \\ud800 to \\udfff escape)."
                ) from None


def loads(raw: str | bytes, *, max_bytes: int, max_depth: int) -> Any:
    """Parse `raw` or raise UnsafeJSON saying what is wrong with it."""
    if len(raw) > max_bytes:
        raise UnsafeJSON(f"is larger than {max_bytes // 1024:,} KB.")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UnsafeJSON("is not UTF-8 text.") from None
    _check_depth(raw, max_depth=max_depth)
    try:
        value = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except UnsafeJSON:
        raise
    except (ValueError, RecursionError) as error:
        raise UnsafeJSON(f"is not valid JSON: {error}.") from None
    check_text(value)
    return value
