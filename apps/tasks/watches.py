"""Who hears of a task's conversation: its watchers, and the people an @mention reaches.

Reads only, used by the services (who to tell) and the pages (the watch toggle). Kept out of
selectors.py because the services read them and selectors.py imports the services.
"""

from apps.people.models import User
from apps.people.system import AUTOMATION_USERNAME

from .models import Task, TaskWatch


def watchers(*, task: Task) -> list[User]:
    """Who hears of a task's comments and decisions: whoever watches it (commenting makes a
    watch), its assignee and its creator, less whoever unwatched it; only active members of
    the task's team (who can see it), never the automation account."""
    choices = dict(TaskWatch.objects.filter(task=task).values_list("user_id", "watching"))
    # Read now, not from `task`: a caller's copy may predate an assignment in this request.
    implicit = set(Task.objects.filter(pk=task.pk).values_list("assignee_id", "created_by_id")[0])
    implicit -= {None}
    ids = {pk for pk, watching in choices.items() if watching}
    ids |= {pk for pk in implicit if choices.get(pk, True)}
    if not ids:
        return []
    return list(
        User.objects.filter(pk__in=ids, is_active=True, memberships__team_id=task.team_id)
        .exclude(username=AUTOMATION_USERNAME)
        .distinct()
        .order_by("pk")
    )


def is_watching(*, task: Task, user: User) -> bool:
    if not user.is_authenticated:
        return False
    choice = TaskWatch.objects.filter(task=task, user=user).values_list("watching", flat=True)
    for watching in choice:
        return watching
    return user.pk in (task.assignee_id, task.created_by_id)


def mentionable(*, task: Task) -> dict[str, User]:
    """username → person, for the people an @mention in this task's comments reaches: the
    active members of its team (an outsider's @name stays text)."""
    return {
        person.username: person
        for person in User.objects.filter(memberships__team_id=task.team_id, is_active=True)
        .exclude(username=AUTOMATION_USERNAME)
        .distinct()
    }
