from django.apps import AppConfig


class AssignmentConfig(AppConfig):
    name = "apps.assignment"
    label = "assignment"

    def ready(self) -> None:
        # Waiting tasks are retried when a transition frees someone's capacity, and waiting
        # rows are dropped when their task leaves `todo`.
        from apps.tasks.services import AFTER_TRANSITION

        from .services import after_transition

        if after_transition not in AFTER_TRANSITION:
            AFTER_TRANSITION.append(after_transition)
