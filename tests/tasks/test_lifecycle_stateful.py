"""Random transitions by random team members: the services accept exactly what the rules allow.

The machine keeps its own model of every task, written from the README's lifecycle section
and the permission docstrings in apps/tasks/models.py (the states each transition leaves
from, who may take it, what it does to capacity), not from the code that enforces them.
Before each call, made from an up-to-date page, a stale one or none, the model predicts
accept or refuse with the reasons. The services must agree: a refusal gives one of those
reasons and changes nothing (task, counters, log, notifications); an accepted call is logged
with who took it; after every step the database looks exactly like the model.
"""

import itertools
import re
from dataclasses import dataclass

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Q
from django_fsm_log.models import StateLog
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from apps.notifications.models import Notification
from apps.people.models import Role, User
from apps.tasks import services
from apps.tasks.models import Task

from ..factories import MembershipFactory, TeamFactory, UserFactory

# --- the rules, as the README states them ----------------------------------------------------

DECISIONS = ("approve", "request_changes", "reject")
OPEN = ("todo", "assigned", "in_progress", "in_review")
ACTIVE = ("assigned", "in_progress", "in_review")  # count against the assignee's capacity
FINAL = ("done", "cancelled")
STATES = (*OPEN, "on_hold", *FINAL)
SOURCES = {
    "assign": ("todo",),
    "unassign": ("assigned",),
    "start": ("assigned",),
    "submit": ("in_progress",),
    "complete": ("in_progress",),
    "approve": ("in_review",),
    "request_changes": ("in_review",),
    "reject": ("in_review",),
    "hold": OPEN,
    "resume": ("on_hold",),
    "cancel": (*OPEN, "on_hold"),
}
TARGETS = {
    "assign": "assigned",
    "unassign": "todo",
    "start": "in_progress",
    "submit": "in_review",
    "complete": "done",
    "approve": "done",
    "request_changes": "in_progress",
    "reject": "done",
    "hold": "on_hold",
    "cancel": "cancelled",
}  # resume goes back to where the task was held from
# The transitions that move work towards done (the others step back or aside).
ONWARD = ("assign", "start", "submit", "complete", *DECISIONS, "resume")
WORK = ("unassign", "start", "submit", "complete", "hold", "resume")
OUTCOMES = ("done", "passed", "failed")  # what work without review may finish with
DECIDED = {"approve": "approved", "request_changes": "changes_requested", "reject": "rejected"}

# Each reason a call may be refused for, and how the refusal says it.
SAYS = {
    "stale": r"^Someone else changed this task first",
    "state": r"^Can't .+ a task that is ",
    "unreviewed": r"must be reviewed by someone else",
    "role": r"^Only ",
    "outcome": r"^Choose an outcome",
    "capacity": r" can't take this task: at capacity \d+/\d+\.$",
}

PEOPLE = {  # name: (role, capacity); reviewers and the lead may also be assignees
    "lead": ("lead", 2),
    "rita": ("reviewer", 2),
    "remy": ("reviewer", 1),
    "alice": ("member", 1),
}
CREATORS = ("lead", "alice", "rita", "remy")  # who created task 0, 1, 2, 3 (it's theirs to cancel)


@dataclass
class Modelled:
    creator: str
    requires_review: bool
    state: str = "todo"
    assignee: str | None = None
    reviewer: str | None = None  # set by whoever last decided on the review
    held_from: str = ""  # kept from hold until resume
    outcome: str = ""
    logged: int = 0


def allowed_for(actor: str, action: str, assignee: str | None, task: Modelled) -> bool:
    """Who may take a transition, whatever the state."""
    role = PEOPLE[actor][0]
    lead = role == "lead"
    if action == "assign":  # members take work for themselves; leads hand it to anyone
        return assignee == actor or lead
    if action in WORK:  # the assignee works a task; a lead may do anything
        return actor == task.assignee or lead
    if action in DECISIONS:  # four eyes: never the assignee, not even a lead
        if actor == task.assignee:
            return False
        if task.reviewer not in (None, actor):  # the named reviewer decides, or a lead
            return lead
        return role in ("reviewer", "lead")
    assert action == "cancel"
    return lead or actor == task.creator


# --- the machine -----------------------------------------------------------------------------

_ids = itertools.count()


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        n = next(_ids)
        self.team = TeamFactory(slug=f"stateful-{n}")
        self.people: dict[str, User] = {}
        for name, (role, capacity) in PEOPLE.items():
            user = UserFactory(username=f"{name}-{n}", capacity=capacity)
            MembershipFactory(team=self.team, user=user, role=Role(role))
            self.people[name] = user
        self.tasks: list[Task] = []
        self.model: list[Modelled] = []
        for i, creator in enumerate(CREATORS):
            requires_review = i % 2 == 1
            self.tasks.append(
                services.create_task(
                    team=self.team,
                    title=f"t{i}",
                    by=self.people[creator],
                    requires_review=requires_review,
                )
            )
            self.model.append(Modelled(creator=creator, requires_review=requires_review))
        self.active = dict.fromkeys(PEOPLE, 0)
        self.name_of = {user.pk: name for name, user in self.people.items()}

    # --- what the model predicts --------------------------------------------------------------

    def _after(self, task: Modelled, action: str, assignee: str | None) -> tuple[str, str | None]:
        """The state and assignee a legal transition leads to."""
        if action == "assign":
            return "assigned", assignee
        if action == "unassign":
            return "todo", None
        if action == "resume":
            return task.held_from, task.assignee
        return TARGETS[action], task.assignee

    def reasons_to_refuse(self, task, action, actor, assignee, outcome, expected) -> set[str]:
        reasons = set()
        if expected is not None and expected != task.state:
            reasons.add("stale")
        if action == "complete" and outcome not in OUTCOMES:
            reasons.add("outcome")
        if not allowed_for(actor, action, assignee, task):
            reasons.add("role")
        if task.state not in SOURCES[action]:
            reasons.add("state")
        elif action == "complete" and task.requires_review:
            reasons.add("unreviewed")
        else:
            state, holder = self._after(task, action, assignee)
            held_before = task.assignee if task.state in ACTIVE else None
            held_after = holder if state in ACTIVE else None
            takes_a_slot = held_after not in (None, held_before)
            if takes_a_slot and self.active[held_after] >= PEOPLE[held_after][1]:
                reasons.add("capacity")
        return reasons

    def apply(self, task: Modelled, action: str, actor: str, assignee, outcome) -> None:
        held_before = task.assignee if task.state in ACTIVE else None
        state, holder = self._after(task, action, assignee)
        if action == "hold":
            task.held_from = task.state
        elif action == "resume":
            task.held_from = ""
        task.state, task.assignee = state, holder
        if action == "submit":
            task.outcome = ""
        elif action == "complete":
            task.outcome = outcome
        elif action in DECISIONS:
            task.outcome, task.reviewer = DECIDED[action], actor
        held_after = holder if state in ACTIVE else None
        if held_before != held_after:
            if held_before:
                self.active[held_before] -= 1
            if held_after:
                self.active[held_after] += 1
        task.logged += 1

    # --- what the services do -----------------------------------------------------------------

    def _logs(self):
        return StateLog.objects.filter(
            content_type=ContentType.objects.get_for_model(Task),
            object_id__in=[t.pk for t in self.tasks],
        ).order_by("id")

    def snapshot(self):
        """Everything a refused call must leave as it was."""
        pks = [t.pk for t in self.tasks]
        return (
            list(
                Task.objects.filter(pk__in=pks)
                .order_by("pk")
                .values_list(
                    "state",
                    "assignee",
                    "reviewer",
                    "held_from",
                    "outcome",
                    "finished_at",
                    "updated_at",
                )
            ),
            list(
                User.objects.filter(pk__in=[p.pk for p in self.people.values()])
                .order_by("pk")
                .values_list("active_count", "last_assigned_at")
            ),
            self._logs().count(),
            Notification.objects.filter(task_id__in=pks).count(),
        )

    def call(self, index, actor, action, *, assignee, outcome, expected):
        """`assignee` is who an assignment is for; `expected` the state the caller's page
        shows ("current": an up-to-date page, None: no page, as when Relay acts)."""
        task, modelled = self.tasks[index], self.model[index]
        kwargs = {}
        if action == "assign":
            kwargs["assignee"] = self.people[assignee]
        else:
            assignee = None
        if action == "complete":
            kwargs["outcome"] = outcome
        if expected == "current":
            expected = modelled.state
        reasons = self.reasons_to_refuse(modelled, action, actor, assignee, outcome, expected)
        before = self.snapshot()
        by = User.objects.get(pk=self.people[actor].pk)
        try:
            services.perform(
                task=Task.objects.get(pk=task.pk),
                action=action,
                by=by,
                expected_state=expected,
                **kwargs,
            )
        except services.TaskActionRefused as refusal:
            message = str(refusal)
            assert reasons, f"{actor} {action} on {modelled} was refused: {message}"
            assert any(re.search(SAYS[r], message) for r in reasons), (
                f"{actor} {action} on {modelled} refused with {message!r}, expected {reasons}"
            )
            assert self.snapshot() == before, f"refused {action} changed something"
            return
        assert not reasons, f"{actor} {action} on {modelled} was allowed despite {reasons}"
        source = modelled.state
        self.apply(modelled, action, actor, assignee, outcome)
        log = StateLog.objects.for_(task).latest("id")
        assert (log.transition, log.by_id, log.source_state, log.state) == (
            action,
            by.pk,
            source,
            modelled.state,
        )

    @rule(
        index=st.integers(0, len(CREATORS) - 1),
        actor=st.sampled_from(list(PEOPLE)),
        action=st.sampled_from(list(SOURCES)),
        assignee=st.sampled_from(list(PEOPLE)),
        outcome=st.sampled_from([*OUTCOMES, "bogus"]),
        expected=st.one_of(st.just("current"), st.none(), st.sampled_from(STATES)),
    )
    def anyone_tries_anything(self, index, actor, action, assignee, outcome, expected):
        self.call(index, actor, action, assignee=assignee, outcome=outcome, expected=expected)

    @rule(data=st.data())
    def someone_takes_a_next_step(self, data):
        """A transition the lifecycle offers from here (mostly one that moves the work on) on
        an unfinished task, from an up-to-date page, by someone the rules allow, someone
        involved (assignee, reviewer, creator: where the rules draw their lines) or anyone:
        random calls alone seldom get a task as far as review. Cancelling is left to the
        random calls, or every task would soon be over."""
        unfinished = [i for i, t in enumerate(self.model) if t.state not in FINAL]
        if not unfinished:
            return
        index = data.draw(st.sampled_from(unfinished), label="task")
        modelled = self.model[index]
        offered = [a for a, s in SOURCES.items() if modelled.state in s and a != "cancel"]
        onward = [a for a in offered if a in ONWARD] or offered
        action = data.draw(
            st.sampled_from(onward) | st.sampled_from(onward) | st.sampled_from(offered),
            label="action",
        )
        assignee = data.draw(st.sampled_from(list(PEOPLE)), label="assignee")
        allowed = [p for p in PEOPLE if allowed_for(p, action, assignee, modelled)]
        involved = [p for p in (modelled.assignee, modelled.reviewer, modelled.creator) if p]
        actor = data.draw(
            st.sampled_from(allowed or list(PEOPLE))
            | st.sampled_from(involved)
            | st.sampled_from(list(PEOPLE)),
            label="actor",
        )
        outcome = data.draw(st.sampled_from(OUTCOMES), label="outcome")
        self.call(index, actor, action, assignee=assignee, outcome=outcome, expected="current")

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def the_database_is_the_model(self):
        rows = Task.objects.filter(pk__in=[t.pk for t in self.tasks]).order_by("pk")
        for task, modelled in zip(rows, self.model, strict=True):
            actual = (
                task.state,
                self.name_of.get(task.assignee_id),
                self.name_of.get(task.reviewer_id),
                task.held_from,
                task.outcome,
            )
            expected = (
                modelled.state,
                modelled.assignee,
                modelled.reviewer,
                modelled.held_from,
                modelled.outcome,
            )
            assert actual == expected

    @invariant()
    def the_log_tells_the_story(self):
        logs = {task.pk: [] for task in self.tasks}
        for object_id, source, target in self._logs().values_list(
            "object_id", "source_state", "state"
        ):
            logs[int(object_id)].append((source, target))
        for task, modelled in zip(self.tasks, self.model, strict=True):
            log = logs[task.pk]
            assert len(log) == modelled.logged
            if log:
                assert log[-1][1] == modelled.state
                assert all(a[1] == b[0] for a, b in itertools.pairwise(log))

    @invariant()
    def capacity_counters_are_true(self):
        people = User.objects.filter(pk__in=[p.pk for p in self.people.values()]).annotate(
            held=Count("assigned_tasks", filter=Q(assigned_tasks__state__in=ACTIVE))
        )
        for user in people:
            assert user.active_count == user.held == self.active[self.name_of[user.pk]]
            assert user.held <= user.capacity


@pytest.mark.django_db
def test_random_transitions_are_accepted_exactly_when_the_rules_allow():
    # Examples and steps come from the Hypothesis profile (tests/conftest.py): a quick
    # search locally, a wider one in CI (CI=true).
    run_state_machine_as_test(LifecycleMachine, settings=settings())
