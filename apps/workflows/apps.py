from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "apps.workflows"
    label = "workflows"

    def ready(self) -> None:
        from django.core import checks

        from .checks import check_step_claim_lease

        checks.register(check_step_claim_lease)

        # A run's task reaching `done` moves the run on.
        from apps.tasks.models import Task
        from apps.tasks.signals import task_transitioned

        from .services import on_task_transitioned

        task_transitioned.connect(
            on_task_transitioned, sender=Task, dispatch_uid="workflows.on_task_transitioned"
        )
