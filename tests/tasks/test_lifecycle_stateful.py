"""Random transitions by random team members never break the lifecycle's invariants."""

import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from apps.people.models import Role, User
from apps.tasks import services
from apps.tasks.models import ACTIVE_STATES, FINAL_STATES, State, Task

from ..factories import MembershipFactory, TeamFactory, UserFactory

_ids = itertools.count()
ACTIONS = [*services.ACTIONS, "assign_other"]


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        n = next(_ids)
        self.team = TeamFactory(slug=f"stateful-{n}")
        self.people = {}
        for name, role, capacity in [
            ("lead", Role.LEAD, 2),
            ("reviewer", Role.REVIEWER, 1),
            ("alice", Role.MEMBER, 1),
            ("bob", Role.MEMBER, 2),
        ]:
            user = UserFactory(username=f"{name}-{n}", capacity=capacity)
            MembershipFactory(team=self.team, user=user, role=role)
            self.people[name] = user
        self.tasks = [
            services.create_task(
                team=self.team, title=f"t{i}", by=self.people["lead"], requires_review=bool(i % 2)
            )
            for i in range(3)
        ]
        self.successes = {task.pk: 0 for task in self.tasks}
        self.finished: set[int] = set()

    @rule(
        index=st.integers(0, 2),
        actor=st.sampled_from(["lead", "reviewer", "alice", "bob"]),
        action=st.sampled_from(ACTIONS),
        outcome=st.sampled_from(["done", "passed", "failed", "bogus"]),
    )
    def act(self, index, actor, action, outcome):
        task = Task.objects.get(pk=self.tasks[index].pk)
        by = User.objects.get(pk=self.people[actor].pk)
        kwargs = {}
        if action == "assign_other":
            action = "assign"
            kwargs["assignee"] = self.people["bob" if actor != "bob" else "alice"]
        if action == "complete":
            kwargs["outcome"] = outcome
        before = task.state
        try:
            services.perform(task=task, action=action, by=by, expected_state=before, **kwargs)
        except services.TaskActionRefused:
            task.refresh_from_db()
            assert task.state == before, "a refused transition changed the state"
            return
        assert task.pk not in self.finished, "a finished task moved again"
        self.successes[task.pk] += 1

    @invariant()
    def lifecycle_holds(self):
        for task in Task.objects.filter(pk__in=self.successes):
            assert task.state in State.values
            log = list(services.StateLog.objects.for_(task).order_by("id"))
            assert len(log) == self.successes[task.pk]
            if log:
                assert log[-1].state == task.state
                assert all(a.state == b.source_state for a, b in itertools.pairwise(log))
            if task.state in FINAL_STATES:
                self.finished.add(task.pk)

    @invariant()
    def capacity_counters_are_true(self):
        for user in User.objects.filter(pk__in=[p.pk for p in self.people.values()]):
            active = Task.objects.filter(assignee=user, state__in=ACTIVE_STATES).count()
            assert user.active_count == active
            assert active <= user.capacity


@pytest.mark.django_db
def test_random_transitions_keep_the_lifecycle_invariants():
    run_state_machine_as_test(
        LifecycleMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
