from django.apps import AppConfig


class AssignmentConfig(AppConfig):
    name = "apps.assignment"
    label = "assignment"

    def ready(self) -> None:
        # Every assignment is held to the eligibility rules, waiting rows are dropped when
        # their task leaves `todo`, and waiting tasks are retried when someone frees up.
        from apps.people.signals import availability_changed
        from apps.tasks.models import Task
        from apps.tasks.signals import task_transitioned, tasks_transitioned_in_bulk

        from .services.receivers import (
            on_availability_changed,
            on_task_transitioned,
            on_tasks_transitioned_in_bulk,
        )

        task_transitioned.connect(
            on_task_transitioned, sender=Task, dispatch_uid="assignment.on_task_transitioned"
        )
        tasks_transitioned_in_bulk.connect(
            on_tasks_transitioned_in_bulk,
            sender=Task,
            dispatch_uid="assignment.on_tasks_transitioned_in_bulk",
        )
        availability_changed.connect(
            on_availability_changed, dispatch_uid="assignment.on_availability_changed"
        )
