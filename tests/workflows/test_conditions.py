"""The route condition language: what parses, what it means, and that nothing else gets in."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.workflows.conditions import MAX_DEPTH, MAX_SOURCE, ConditionError, parse, problems

CONTEXT = {"accuracy": 0.93, "inputs.threshold": 0.9, "notes": "ok", "evaluate.ok": True}
TYPES = {
    "accuracy": "number",
    "inputs.threshold": "number",
    "notes": "text",
    "evaluate.ok": "boolean",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("accuracy >= inputs.threshold", True),
        ("accuracy < inputs.threshold", False),
        ("not (accuracy < 0.5) and notes == 'ok'", True),
        ('notes != "ok" or evaluate.ok', True),
        ("evaluate.ok == false", False),
        ("1 < 2 and -1.5e1 < 0", True),
        ("not(accuracy < 0.5)and(notes == 'ok')", True),
    ],
)
def test_conditions_mean_what_they_say(text, expected):
    assert parse(text).evaluate(CONTEXT) is expected


def test_a_condition_names_what_it_reads():
    assert parse("accuracy >= inputs.threshold or not evaluate.ok").names == {
        "accuracy",
        "inputs.threshold",
        "evaluate.ok",
    }


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "a.b()",
        "x[0]",
        "lambda x: x",
        "accuracy.__class__",
        "open('/etc/passwd')",
        "1 + 1 == 2",
        "accuracy >= 0.9; import os",
        "1 < 2 < 3",
        "",
        "(accuracy > 1",
        "'unclosed",
        "a = 1",
    ],
)
def test_anything_outside_the_grammar_is_refused_with_a_sentence(text):
    with pytest.raises(ConditionError) as refused:
        parse(text).evaluate(CONTEXT)
    assert refused.value.message.endswith((".", "!")) and len(refused.value.message) > 20


def test_a_condition_is_bounded_in_length_and_depth():
    with pytest.raises(ConditionError, match=f"at most {MAX_SOURCE}"):
        parse("a == 1 and " * 60 + "a == 1")
    with pytest.raises(ConditionError, match="nests more than"):
        parse("(" * (MAX_DEPTH + 1) + "true" + ")" * (MAX_DEPTH + 1))


def test_a_missing_or_mistyped_value_is_a_sentence_not_a_crash():
    with pytest.raises(ConditionError, match="'accuracy' has no value"):
        parse("accuracy >= 0.9").evaluate({})
    with pytest.raises(ConditionError, match=r"compares 'high' \(text\) with 0.9 \(number\)"):
        parse("accuracy >= 0.9").evaluate({"accuracy": "high"})
    with pytest.raises(ConditionError, match="not true or false"):
        parse("accuracy").evaluate(CONTEXT)


def test_problems_name_unknown_names_and_mismatched_types():
    assert problems("accuracy >= inputs.threshold", TYPES) == []
    [unknown] = problems("acuracy >= 0.9", TYPES)
    assert unknown.startswith("'acuracy' is not an input or output known here")
    [mismatch] = problems("accuracy == 'high'", TYPES)
    assert mismatch.startswith("accuracy (number) is compared with 'high' (text) (text)")
    [bare] = problems("accuracy and evaluate.ok", TYPES)
    assert "'and' needs true/false on each side, but accuracy is number" in bare


# --- random text and random trees --------------------------------------------------------------

ALPHABET = st.sampled_from(
    [*"abcxyz_.()[]'\"<>=!-+*/ 0123456789,:;", "and ", "or ", "not ", "true", "false"]
)
values = st.one_of(
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(alphabet="abc ", max_size=5),
    st.booleans(),
)
names = st.sampled_from(["a", "b", "inputs.threshold", "evaluate.accuracy", "missing"])


@settings(max_examples=400, deadline=None)
@given(text=st.lists(ALPHABET, max_size=40).map("".join), a=values, b=values)
def test_random_text_parses_to_a_boolean_or_is_refused(text, a, b):
    context = {"a": a, "b": b, "inputs.threshold": 0.9, "evaluate.accuracy": 0.8}
    try:
        result = parse(text).evaluate(context)
    except ConditionError as refused:
        assert refused.message
    else:
        assert isinstance(result, bool)


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    return repr(value)


atoms = st.one_of(names, values.map(_literal))
trees = st.recursive(
    st.tuples(atoms, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), atoms).map(" ".join)
    | atoms,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from([" and ", " or "]), inner).map("".join),
        inner.map(lambda t: f"not ({t})"),
        inner.map(lambda t: f"({t})"),
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(text=trees, a=values, b=values)
def test_random_trees_evaluate_to_a_boolean_or_are_refused(text, a, b):
    context = {"a": a, "b": b, "inputs.threshold": 0.9, "evaluate.accuracy": 0.8}
    try:
        condition = parse(text)
        result = condition.evaluate(context)
    except ConditionError as refused:
        assert refused.message
    else:
        assert isinstance(result, bool)
        assert condition.names <= {"a", "b", "inputs.threshold", "evaluate.accuracy", "missing"}
        # Checked statically with the values' own types, a valid condition has no problems.
        types = {"inputs.threshold": "number", "evaluate.accuracy": "number"}
        assert isinstance(problems(text, types), list)
