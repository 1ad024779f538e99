"""Choosing who does a task, recording why, and keeping everyone within capacity.

One module per family of verbs; import from the module itself (nothing is re-exported here,
so a name has one address, and a test's monkeypatch lands where the code looks it up):

- `single`: `assign` / `assign_with_decision`, the one entry point for a single task (the run
  engine, the board and the task page call it), and the decision it records.
- `waiting`: marking a task nobody can take now as waiting, with the reasons, and telling
  the leads.
- `retries`: trying waiting tasks again when someone frees up or comes back.
- `receivers`: what the assignment app does when a task moves or someone's availability
  changes (apps.tasks.signals.task_transitioned, apps.people.signals.availability_changed).
- `batch`: `auto_assign_pending`, a whole team's backlog at once.

`single` and `batch` decide from the same ranking (selectors.candidates / the same key), so a
batch gives what one-by-one would. Capacity is refereed by the database, never by a
read-then-write here: every assignment bumps `User.active_count` with an F() update under the
CheckConstraint `active_count <= capacity`. A single assignment that loses a race gets
TaskActionRefused from apps.tasks.services and tries the next candidate (each attempt in its
own savepoint); a batch whose bulk counter update is refused rolls back as a whole and is
recomputed from fresh loads.

Imports go one way, so none of these modules needs another lazily:
receivers → retries → single → waiting ← batch.
"""
