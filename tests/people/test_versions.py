"""The version counters: every change a team's pages or a person's header show bumps them in
the same transaction, whatever wrote it; read_versions reads them all in one query."""

import pytest
from django.db import connection

from apps.people.models import Role, Team
from apps.people.version_triggers import expected_count, heal
from apps.people.versions import VERSIONS_QUERY, read_versions
from apps.tasks import services
from apps.tasks.models import Task

from ..factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_read_versions_is_one_query_with_every_team(member, team, django_assert_num_queries):
    elsewhere = TeamFactory(slug="elsewhere")
    MembershipFactory(team=elsewhere, user=member)
    with django_assert_num_queries(1):
        versions = read_versions(member.pk)
    assert set(versions.teams) == {team.pk, elsewhere.pk}
    assert versions.person > 0


def test_a_person_on_no_team_has_a_counter_and_no_teams(db):
    loner = UserFactory()
    versions = read_versions(loner.pk)
    assert versions.person > 0
    assert versions.teams == {}


def test_a_task_change_bumps_its_team_and_its_people_only(team, member, lead, outsider):
    task = services.create_task(team=team, title="Train", by=lead)
    before, before_other = read_versions(member.pk), read_versions(outsider.pk)
    services.assign_to(task=task, assignee=member, by=lead)
    after = read_versions(member.pk)
    assert after.teams[team.pk] > before.teams[team.pk]
    assert after.person > before.person  # My work counts moved
    assert read_versions(outsider.pk) == before_other  # another team: untouched


def test_a_bulk_update_bumps_the_team(team, lead):
    services.create_task(team=team, title="Train", by=lead)
    before = read_versions(lead.pk)
    Task.objects.filter(team=team).update(title="Renamed without a service")
    assert read_versions(lead.pk).teams[team.pk] > before.teams[team.pk]


def test_a_member_rename_bumps_every_team_they_are_on(team, member, lead):
    before = read_versions(lead.pk)
    member.first_name = "Mirabel"
    member.save()
    assert read_versions(lead.pk).teams[team.pk] > before.teams[team.pk]


def test_a_role_change_bumps_the_person(team, member):
    before = read_versions(member.pk)
    member.memberships.update(role=Role.LEAD)
    after = read_versions(member.pk)
    assert after.person > before.person
    assert after.teams[team.pk] > before.teams[team.pk]


def test_a_team_rename_bumps_it(team, member):
    before = read_versions(member.pk)
    Team.objects.filter(pk=team.pk).update(name="Renamed")
    assert read_versions(member.pk).teams[team.pk] > before.teams[team.pk]


def test_the_reusable_sql_answers_for_the_person_asked(member, outsider):
    sql, params = VERSIONS_QUERY.sql_and_params(user=outsider.pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    assert {row[1] for row in rows} == set(read_versions(outsider.pk).teams)


def test_missing_triggers_are_created_again_after_migrate(db):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER relay_v_tasks_task ON tasks_task")
        else:
            cursor.execute("DROP TRIGGER relay_v_tasks_task_update")
    heal()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT COUNT(*) FROM pg_trigger WHERE tgname LIKE 'relay_v_%'")
        else:
            cursor.execute(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' "
                "AND name LIKE 'relay_v_%'"
            )
        assert cursor.fetchone()[0] == expected_count(connection.vendor)


@pytest.mark.django_db(transaction=True)
def test_the_counters_survive_a_migration_that_remakes_the_tasks_table(team, lead):
    """SQLite remakes a table for most ALTERs (and drops its triggers with it): a migration of
    tasks_task from any branch must leave the counters working."""
    task = services.create_task(team=team, title="Train", by=lead)
    if connection.vendor == "sqlite":
        with connection.schema_editor() as editor:
            editor._remake_table(Task)
    else:
        with connection.schema_editor() as editor:
            editor.execute("ALTER TABLE tasks_task ALTER COLUMN title TYPE varchar(200)")
    before = read_versions(lead.pk)
    Task.objects.filter(pk=task.pk).update(title="Renamed after the remake")
    assert read_versions(lead.pk).teams[team.pk] > before.teams[team.pk]
