from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "apps.workflows"
    label = "workflows"

    def ready(self) -> None:
        from apps.tasks.services import AFTER_TRANSITION

        from .services import on_task_transition

        if on_task_transition not in AFTER_TRANSITION:
            AFTER_TRANSITION.append(on_task_transition)
