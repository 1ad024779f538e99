"""Route conditions: a small expression language over a run's inputs and its steps' outputs.

    accuracy >= inputs.threshold and not (evaluate.notes == 'skip')

The grammar has comparisons (== != < <= > >=), `and`, `or`, `not`, parentheses, numbers,
strings ('…' or "…", no escapes), `true`/`false` and dotted names. There is nothing else to
parse: no arithmetic, no calls, no indexing, no attribute access on values, so a condition can
only read the names it is given. It is a hand-written recursive-descent parser rather than a
library: the grammar is eight rules, and we want every refusal as a sentence a lead can act on.
Bounded: at most MAX_SOURCE characters and MAX_DEPTH levels of nesting.

A name is a dotted path of segments that start with a letter (`inputs.threshold`,
`evaluate.accuracy`, `peer-review.score`): step keys are slugs, and there is no minus to
confuse them with. The context a condition is evaluated in maps each whole dotted name to a
value (routing.context_for builds it).
"""

import math
import re
from dataclasses import dataclass

MAX_SOURCE = 500
MAX_DEPTH = 20

# The types a value can have, as the field types (apps.workflows.fields) map onto them.
NUMBER, TEXT, BOOLEAN = "number", "text", "boolean"
_BASE_TYPE = {"number": NUMBER, "text": TEXT, "url": TEXT, "choice": TEXT, "boolean": BOOLEAN}
_ORDERED = (NUMBER, TEXT)
COMPARISONS = ("==", "!=", "<=", ">=", "<", ">")


class ConditionError(ValueError):
    """A condition that can't be parsed or evaluated; `message` is the sentence to show."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


# --- tokens ------------------------------------------------------------------------------------

_SEGMENT = r"[A-Za-z][A-Za-z0-9_-]*"
_TOKEN = re.compile(
    rf"""
    (?P<space>\s+)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![A-Za-z0-9_.]))
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<keyword>(?:and|or|not|true|false)(?![A-Za-z0-9_.-]))
  | (?P<name>{_SEGMENT}(?:\.{_SEGMENT})*(?![A-Za-z0-9_.(\[]))
  | (?P<op>==|!=|<=|>=|<|>)
  | (?P<paren>[()])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, name, keyword, op, paren, end
    text: str
    at: int


def _tokens(source: str) -> list[_Token]:
    tokens, at = [], 0
    while at < len(source):
        match = _TOKEN.match(source, at)
        if match is None:
            raise ConditionError(_unexpected(source, at))
        kind = match.lastgroup
        text = match.group()
        if kind != "space":
            tokens.append(_Token(kind, text, at))
        at = match.end()
    tokens.append(_Token("end", "", len(source)))
    return tokens


def _unexpected(source: str, at: int) -> str:
    rest = source[at:]
    if rest[:1] in ("'", '"'):
        return f"The text starting at character {at + 1} is never closed: end it with {rest[0]}."
    if rest.startswith(("=", "!")) and not rest.startswith(("==", "!=")):
        return (
            f"'{rest[:1]}' at character {at + 1} is not a comparison: use ==, !=, <, <=, > or >=."
        )
    snippet = rest[:20]
    return (
        f"Can't read '{snippet}' at character {at + 1}: a condition has only names "
        "(such as accuracy or inputs.threshold), numbers, 'text', true/false, comparisons "
        "(== != < <= > >=), and, or, not and parentheses."
    )


# --- the tree ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: object


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Compare:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" / "or"
    operands: tuple


@dataclass(frozen=True)
class Not:
    operand: object


class _Parser:
    def __init__(self, source: str):
        self.source = source
        self.tokens = _tokens(source)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConditionError(
                f"The condition nests more than {MAX_DEPTH} levels deep: write it more simply."
            )

    def parse(self):
        if self.peek().kind == "end":
            raise ConditionError("The condition is empty: write one, or leave the route default.")
        tree = self.expression()
        token = self.peek()
        if token.kind != "end":
            raise ConditionError(self._misplaced(token, "where the condition should end"))
        return tree

    def expression(self):
        operands = [self.conjunction()]
        while self.peek().text == "or" and self.peek().kind == "keyword":
            self.take()
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands))

    def conjunction(self):
        operands = [self.negation()]
        while self.peek().text == "and" and self.peek().kind == "keyword":
            self.take()
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands))

    def negation(self):
        if self.peek().kind == "keyword" and self.peek().text == "not":
            self.take()
            self.deeper()
            operand = self.negation()
            self.depth -= 1
            return Not(operand)
        return self.comparison()

    def comparison(self):
        left = self.atom()
        if self.peek().kind != "op":
            return left
        op = self.take().text
        right = self.atom()
        if self.peek().kind == "op":
            raise ConditionError(
                f"'{self.peek().text}' at character {self.peek().at + 1} chains a second "
                "comparison: join comparisons with and/or (e.g. a > 1 and a < 5)."
            )
        return Compare(op, left, right)

    def atom(self):
        token = self.take()
        if token.kind == "number":
            value = float(token.text) if any(c in token.text for c in ".eE") else int(token.text)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConditionError(f"The number {token.text} is too large.")
            return Literal(value)
        if token.kind == "string":
            return Literal(token.text[1:-1])
        if token.kind == "keyword" and token.text in ("true", "false"):
            return Literal(token.text == "true")
        if token.kind == "name":
            return Name(token.text)
        if token.kind == "paren" and token.text == "(":
            self.deeper()
            inner = self.expression()
            closing = self.take()
            if closing.text != ")":
                raise ConditionError(self._misplaced(closing, "where ')' should close"))
            self.depth -= 1
            return inner
        raise ConditionError(self._misplaced(token, "where a value or name should be"))

    def _misplaced(self, token: _Token, where: str) -> str:
        if token.kind == "end":
            return f"The condition ends too early, {where}: finish it."
        return f"'{token.text}' at character {token.at + 1} is {where}: check the condition."


# --- the parsed condition ----------------------------------------------------------------------


def _names_in(node) -> set[str]:
    if isinstance(node, Name):
        return {node.name}
    if isinstance(node, Compare):
        return _names_in(node.left) | _names_in(node.right)
    if isinstance(node, BoolOp):
        return set().union(*(_names_in(o) for o in node.operands))
    if isinstance(node, Not):
        return _names_in(node.operand)
    return set()


def type_of_value(value) -> str | None:
    """The condition type of a Python value (None for one a condition can't use)."""
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, (int, float)):
        return NUMBER if not isinstance(value, float) or math.isfinite(value) else None
    if isinstance(value, str):
        return TEXT
    return None


def _describe(value) -> str:
    kind = type_of_value(value)
    if kind == TEXT:
        return f"'{value}' (text)"
    if kind == BOOLEAN:
        return f"{'true' if value else 'false'} (true/false)"
    return f"{value} ({kind or type(value).__name__})"


@dataclass(frozen=True)
class Condition:
    source: str
    tree: object

    @property
    def names(self) -> set[str]:
        """The dotted names the condition reads."""
        return _names_in(self.tree)

    def evaluate(self, context: dict) -> bool:
        """True or False; ConditionError (a sentence) on a missing or mistyped value."""
        result = self._eval(self.tree, context)
        if not isinstance(result, bool):
            raise ConditionError(
                f"'{self.source}' gives {_describe(result)}, not true or false: compare it "
                "(e.g. accuracy >= 0.9)."
            )
        return result

    def _eval(self, node, context: dict):
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Name):
            if node.name not in context:
                raise ConditionError(
                    f"'{node.name}' has no value in this run, so '{self.source}' can't be decided."
                )
            value = context[node.name]
            if type_of_value(value) is None:
                raise ConditionError(
                    f"'{node.name}' holds a value a condition can't compare ({_describe(value)})."
                )
            return value
        if isinstance(node, Not):
            return not self._truth(node.operand, context)
        if isinstance(node, BoolOp):
            if node.op == "and":
                return all(self._truth(o, context) for o in node.operands)
            return any(self._truth(o, context) for o in node.operands)
        left, right = self._eval(node.left, context), self._eval(node.right, context)
        return _compare(node.op, left, right, self.source)

    def _truth(self, node, context: dict) -> bool:
        value = self._eval(node, context)
        if not isinstance(value, bool):
            raise ConditionError(
                f"In '{self.source}', {_describe(value)} is used as true/false: compare it "
                "instead (e.g. accuracy >= 0.9)."
            )
        return value


def _compare(op: str, left, right, source: str) -> bool:
    left_type, right_type = type_of_value(left), type_of_value(right)
    if left_type != right_type:
        raise ConditionError(
            f"'{source}' compares {_describe(left)} with {_describe(right)}: compare values "
            "of the same type."
        )
    if op in ("==", "!="):
        return (left == right) == (op == "==")
    if left_type not in _ORDERED:
        raise ConditionError(
            f"'{source}' orders true/false values with {op}: use == or != for them."
        )
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def parse(text: str) -> Condition:
    """The condition in `text`, or ConditionError saying what is wrong and where."""
    if not isinstance(text, str):
        raise ConditionError("A condition must be text.")
    if len(text) > MAX_SOURCE:
        raise ConditionError(
            f"The condition is {len(text)} characters long; at most {MAX_SOURCE} are allowed."
        )
    source = text.strip()
    return Condition(source=source, tree=_Parser(source).parse())


# --- static checking ---------------------------------------------------------------------------


def problems(text: str, types: dict[str, str]) -> list[str]:
    """What stops `text` from working with names of these field types ([] = fine): a parse
    error, unknown names, comparisons of mismatched types, a non-true/false operand."""
    try:
        condition = parse(text)
    except ConditionError as error:
        return [error.message]
    known = {name: _BASE_TYPE.get(kind, kind) for name, kind in types.items()}
    found: list[str] = []
    unknown = sorted(condition.names - set(known))
    for name in unknown:
        found.append(
            f"'{name}' is not an input or output known here: use one of "
            f"{', '.join(sorted(known)) or 'none (declare inputs or outputs first)'}."
        )
    if not unknown:
        kind = _check(condition.tree, known, found)
        if kind != BOOLEAN:
            found.append(
                f"'{condition.source}' gives a {kind} value, not true/false: compare it "
                "(e.g. accuracy >= 0.9)."
            )
    return found


def _static_type(node, known: dict[str, str]) -> str:
    if isinstance(node, Literal):
        return type_of_value(node.value)
    return known[node.name]


def _show(node) -> str:
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Literal):
        return _describe(node.value)
    return "a comparison"


def _check(node, known: dict[str, str], found: list[str]) -> str:
    if isinstance(node, (Literal, Name)):
        return _static_type(node, known)
    if isinstance(node, Not):
        _check_bool(node.operand, "not", known, found)
        return BOOLEAN
    if isinstance(node, BoolOp):
        for operand in node.operands:
            _check_bool(operand, node.op, known, found)
        return BOOLEAN
    left, right = _check(node.left, known, found), _check(node.right, known, found)
    if left != right:
        found.append(
            f"{_show(node.left)} ({left}) is compared with {_show(node.right)} ({right}): "
            "compare values of the same type."
        )
    elif node.op not in ("==", "!=") and left not in _ORDERED:
        found.append(
            f"{_show(node.left)} {node.op} {_show(node.right)} orders true/false values: use "
            "== or != for them."
        )
    return BOOLEAN


def _check_bool(node, op: str, known: dict[str, str], found: list[str]) -> None:
    kind = _check(node, known, found)
    if kind != BOOLEAN:
        found.append(
            f"'{op}' needs true/false on each side, but {_show(node)} is {kind}: compare it "
            "(e.g. accuracy >= 0.9)."
        )
