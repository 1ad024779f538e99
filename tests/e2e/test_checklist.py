"""A step's completion criteria in a real browser: a required checklist item blocks completing
the task, with a message naming it, until it is ticked on the task page."""

import pytest
from playwright.sync_api import expect

from apps.tasks import services
from apps.tasks.models import State, Task

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def ticked(page, text):
    """The item as the server answered the tick: ticked (the box alone is checked at once)."""
    return page.get_by_test_id("checklist").locator("li.done", has_text=text)


def test_a_required_item_blocks_completion_until_it_is_ticked(login, page, make_task, member, lead):
    task = make_task(
        title="Ship the release",
        checklist=[("Tests pass", True), "Screenshots attached", ("Docs updated", True)],
    )
    task = services.assign_to(task=task, assignee=member, by=lead)
    services.start(task=task, by=member)
    login(member)
    page.goto(task.get_absolute_url())
    checklist = page.get_by_test_id("checklist")
    expect(checklist.locator("li.required")).to_have_count(2)
    expect(checklist.locator("li.required").first).to_contain_text("required")

    page.get_by_role("button", name="Complete", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text(
        "Tick the required items first: Tests pass, Docs updated."
    )
    assert Task.objects.get(pk=task.pk).state == State.IN_PROGRESS

    checklist = page.get_by_test_id("checklist")
    checklist.get_by_label("Tests pass", exact=True).check()
    expect(ticked(page, "Tests pass")).to_have_count(1)
    expect(page.get_by_role("alert")).to_have_count(0)  # the old refusal no longer stands
    page.get_by_role("button", name="Complete", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("Tick the required items first: Docs updated.")

    checklist = page.get_by_test_id("checklist")
    checklist.get_by_label("Docs updated", exact=True).check()
    expect(ticked(page, "Docs updated")).to_have_count(1)
    page.get_by_role("button", name="Complete", exact=True).click()
    expect(page.get_by_test_id("task-state")).to_have_text("Done")
    assert Task.objects.get(pk=task.pk).state == State.DONE
