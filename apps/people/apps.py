from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PeopleConfig(AppConfig):
    name = "apps.people"
    label = "people"

    def ready(self):
        from .version_triggers import heal

        post_migrate.connect(heal, sender=self, dispatch_uid="people.version_triggers.heal")
