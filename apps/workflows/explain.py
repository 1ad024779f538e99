"""The sentences that say why a run went where it went: the run page, the loop-back alert, the
run.looped_back webhook and the "Why this came back" block on the next iteration's task.

Pure text from what the engine recorded (RouteTaken: the condition that matched, the values it
read, the checks that failed, the doer's note), so every place says the same thing. Whether a
route goes *back* is the route's own fact (RouteTaken.is_loop_back, or the diagram's
loop-backs for runs recorded before it existed), never its outcome: support's "L1 failed →
L2" goes forward.
"""

from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from apps.tasks.models import Outcome

WHY_HEADING = "Why this came back"


def value_text(value, kind: str = "") -> str:
    """A recorded value as a person reads it: yes/no for booleans, — for nothing."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool) or kind == "boolean":
        return _("yes") if value in (True, "true", "True", 1) else _("no")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def values_text(values: dict) -> str:
    """`accuracy = 0.81, inputs.threshold = 0.9` (in the order they were recorded)."""
    return ", ".join(f"{name} = {value_text(value)}" for name, value in (values or {}).items())


def check_texts(failed_checks: list, values: dict | None = None) -> list[str]:
    """Each failed check as `condition (name = value, …)`: the values it read, where known.

    A check is the condition's text, or a dict with its `condition` and the `values` it read;
    a plain text gets the values of the names it mentions from `values`."""
    texts = []
    for check in failed_checks or []:
        if isinstance(check, dict):
            condition = str(check.get("condition", ""))
            read = check.get("values") or {}
        else:
            condition = str(check)
            read = {n: v for n, v in (values or {}).items() if n in condition}
        if not condition:
            continue
        texts.append(f"{condition} ({values_text(read)})" if read else condition)
    return texts


def outcome_label(outcome: str) -> str:
    return str(Outcome(outcome).label).lower() if outcome in Outcome.values else outcome


@dataclass(frozen=True)
class Why:
    """What finishing one task did to its run, and why (one per task; a split has several
    targets). `targets` are (step name or None for END, goes back?) pairs."""

    step: str
    iteration: int
    outcome: str
    targets: tuple = ()
    condition: str = ""
    values: dict = field(default_factory=dict)
    failed_checks: tuple = ()
    note: str = ""
    note_by: str = ""
    # The ids of the steps it went back to, and an external step's report (system: message).
    back_ids: tuple = ()
    report: str = ""

    @property
    def goes_back(self) -> bool:
        return any(back for _name, back in self.targets)

    def is_back_to(self, step) -> bool:
        return step is not None and step.pk in self.back_ids

    @property
    def values_line(self) -> str:
        return values_text(self.values)

    @property
    def checks(self) -> list[str]:
        return check_texts(list(self.failed_checks), self.values)

    def finished(self) -> str:
        """`finished failed`; just `finished` for a plain `done` (a check decided the route)."""
        if self.outcome == Outcome.DONE:
            return _("finished")
        return _("finished %(outcome)s") % {"outcome": outcome_label(self.outcome)}

    def where(self) -> str:
        """`the run loops back to Train model` / `the run goes on to L2 engineering`."""
        backs = [name for name, back in self.targets if back and name]
        ahead = [name or _("the end") for name, back in self.targets if not back]
        parts = []
        if backs:
            parts.append(_("the run loops back to %(steps)s") % {"steps": ", ".join(backs)})
        if ahead:
            parts.append(_("the run goes on to %(steps)s") % {"steps": ", ".join(ahead)})
        return _(" and ").join(parts) if parts else _("the run goes nowhere")

    def note_line(self) -> str:
        if not self.note:
            return ""
        if self.note_by:
            return _("Note from %(name)s: “%(note)s”") % {"name": self.note_by, "note": self.note}
        return _("Note: “%(note)s”") % {"note": self.note}

    def checks_line(self) -> str:
        checks = self.checks
        if not checks:
            return ""
        label = _("Failed check") if len(checks) == 1 else _("Failed checks")
        return f"{label}: {'; '.join(checks)}."

    def reason(self) -> str:
        """The alert's and the webhook's sentence(s)."""
        head = _("%(step)s %(finished)s; %(where)s.") % {
            "step": self.step,
            "finished": self.finished(),
            "where": self.where(),
        }
        parts = (head, self.report, self.checks_line(), self.note_line())
        return " ".join(part for part in parts if part)

    def came_back_block(self) -> str:
        """The next iteration's description block: what failed in the previous one."""
        first = _("%(step)s (iteration %(n)d) %(finished)s.") % {
            "step": self.step,
            "n": self.iteration,
            "finished": self.finished(),
        }
        lines = [WHY_HEADING, first, self.report, self.checks_line(), self.note_line()]
        return "\n".join(line for line in lines if line)
