"""Django's SQLite backend, with the version-counter and insight-summary triggers kept across
table remakes.

Most ALTERs on SQLite are a remake: create `new__t`, copy, drop `t`, rename `new__t` to `t`.
SQLite drops `t`'s own triggers with it, and refuses the rename while a trigger of another
table still names the dropped `t` (the comment triggers read tasks_task). So around a remake
the counters' triggers (apps.people.version_triggers) are dropped, and created again after:
a migration of any branch may alter tasks_task without knowing they exist. The insight
summary's triggers (apps.insight.summary) likewise; the remake copies rows unchanged, so
nothing is missed from the summary while they are away.
"""

from django.conf import settings
from django.db.backends.sqlite3 import base, schema

from apps.insight import summary
from apps.people import version_triggers


class DatabaseSchemaEditor(schema.DatabaseSchemaEditor):
    def _remake_table(self, model, **kwargs):
        present = version_triggers.present(self.connection)
        insight = summary.present(self.connection)
        if present:
            for statement in version_triggers.drop_sql("sqlite"):
                self.execute(statement)
        if insight:
            for statement in summary.drop_sql(vendor="sqlite"):
                self.execute(statement)
        super()._remake_table(model, **kwargs)
        if present:
            for statement in version_triggers.create_sql("sqlite"):
                self.execute(statement)
        if insight:
            for statement in summary.create_sql(vendor="sqlite", zone=settings.TIME_ZONE):
                self.execute(statement)


class DatabaseWrapper(base.DatabaseWrapper):
    SchemaEditorClass = DatabaseSchemaEditor
