"""What the tasks app tells the apps above it. They connect in their AppConfig.ready() with a
dispatch_uid; grep a signal's name to find every listener.

`tasks` never imports the apps that react (workflows routes a finished step's run, assignment
retries waiting tasks when a slot frees): it announces, they listen.
"""

from django.dispatch import Signal

# A transition was saved, inside its transaction, after its notifications were written.
# Arguments: task (the saved task), name (the transition: "start", "approve" …), by (the
# person, or None for Relay itself), vetted (True when the assignment engine chose the
# assignee and checked their eligibility), note (as logged). A receiver that raises rolls the
# transition back, so a refusal (apps.core.refusals.Refused) from a receiver is the
# transition's refusal.
task_transitioned = Signal()

# A transition was applied to many tasks at once (apps.tasks.writes.apply_in_bulk: the batch
# auto-assigner), inside its transaction, after the log and notifications were written: sent
# once instead of task_transitioned per task, so a receiver reacts to the whole set in a few
# queries. Arguments: task_ids, team_ids (the teams they belong to), name, by, vetted (as
# above). Only transitions listed in apps.tasks.writes.BULK are applied this way.
tasks_transitioned_in_bulk = Signal()
