"""The board in a real browser: drag and drop, menus by keyboard, filters, drawer, queues."""

import re

import pytest
from playwright.sync_api import expect

from apps.tasks import services
from apps.tasks.models import State, WipLimits

from ..factories import PersonSkillFactory, SkillFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def board_of(team):
    return f"/teams/{team.slug}/board/"


def card(page, task):
    return page.locator(f"#card-{task.pk}")


def cell(page, state, lane=0):
    return page.locator(f"#cell-{lane}-{state}")


def drag(page, task, state):
    """Drop the card on a column and wait for the server's answer to be swapped in."""
    page.evaluate("window.relayLastMoveMs = undefined")
    card(page, task).drag_to(cell(page, state), target_position={"x": 30, "y": 10})
    page.wait_for_function("() => window.relayLastMoveMs !== undefined")


def switch_to(page, login, user):
    page.context.clear_cookies()
    return login(user)


@pytest.fixture
def skilled_task(make_task, member):
    """A task only `member` has the skill for, so the engine's pick is known."""
    skill = SkillFactory(slug="ml-training")
    PersonSkillFactory(user=member, skill=skill, level=4)
    return make_task(title="Train churn model", requires_review=True, required_skill=skill)


def test_card_travels_the_lifecycle_by_drag_and_review_queue(
    page, login, team, skilled_task, lead, member, reviewer
):
    login(lead)
    page.goto(board_of(team))
    drag(page, skilled_task, "assigned")
    expect(cell(page, "assigned").locator(f"#card-{skilled_task.pk}")).to_be_visible()
    expect(page.locator("#toasts")).to_contain_text("Assigned “Train churn model” to")
    skilled_task.refresh_from_db()
    assert skilled_task.assignee == member  # the assignment engine's pick

    switch_to(page, login, member)
    page.goto(board_of(team))
    drag(page, skilled_task, "in_progress")
    expect(cell(page, "in_progress").locator(f"#card-{skilled_task.pk}")).to_be_visible()
    drag(page, skilled_task, "in_review")
    expect(cell(page, "in_review").locator(f"#card-{skilled_task.pk}")).to_be_visible()

    switch_to(page, login, reviewer)
    page.get_by_role("link", name=re.compile("Awaiting my review")).click()
    row = page.locator(f"#row-{skilled_task.pk}")
    row.get_by_label(re.compile("Note for")).fill("Metrics check out")
    row.get_by_role("button", name="Approve").click()
    expect(row).to_contain_text("✓ Train churn model — Done (approved)")
    skilled_task.refresh_from_db()
    assert skilled_task.state == State.DONE


def test_author_dragging_own_work_to_done_snaps_back_with_the_reason(
    page, login, team, make_task, member, lead
):
    task = make_task(title="My own work", requires_review=True)
    services.assign_to(task=task, assignee=member, by=lead)
    services.start(task=task, by=member)
    services.submit(task=task, by=member)
    login(member)
    page.goto(board_of(team))
    drag(page, task, "done")
    expect(page.get_by_role("alert")).to_contain_text("other than the assignee")
    expect(cell(page, "in_review").locator(f"#card-{task.pk}")).to_be_visible()
    expect(cell(page, "done").locator(f"#card-{task.pk}")).to_have_count(0)


def test_full_column_refuses_the_drop(page, login, team, make_task, member, lead):
    WipLimits.objects.create(team=team, limits={"in_progress": 1})
    busy, waiting = make_task(title="Busy"), make_task(title="Waiting")
    for task in (busy, waiting):
        services.assign_to(task=task, assignee=member, by=lead)
    services.start(task=busy, by=member)
    login(member)
    page.goto(board_of(team))
    expect(page.get_by_test_id("count-in_progress")).to_have_text("1/1")
    drag(page, waiting, "in_progress")
    expect(page.get_by_role("alert")).to_contain_text("In progress is full (1/1")
    expect(cell(page, "assigned").locator(f"#card-{waiting.pk}")).to_be_visible()


def test_after_a_drop_a_long_column_still_loads_every_card_below_it_once(
    page, login, team, make_task, member
):
    """A drop answers with the moved card only, so the column it left keeps its other cards as
    they were: the next page of that column starts after the cards it now shows."""
    tasks = [make_task(title=f"Card {i:02}", position=i) for i in range(55)]
    login(member)
    page.goto(board_of(team))
    expect(cell(page, "todo").locator(".card-item")).to_have_count(50)
    drag(page, tasks[0], "assigned")
    expect(cell(page, "assigned").locator(f"#card-{tasks[0].pk}")).to_be_visible()
    expect(page.get_by_test_id("count-todo")).to_have_text("54")
    cell(page, "todo").locator("li.more").scroll_into_view_if_needed()
    expect(cell(page, "todo").locator(".card-item")).to_have_count(54)
    shown = (
        cell(page, "todo")
        .locator(".card-item")
        .evaluate_all("cards => cards.map(c => c.dataset.id)")
    )
    assert shown == [str(t.pk) for t in tasks[1:]]


def test_a_start_refused_in_the_drawer_says_why_and_keeps_the_typed_note(
    page, login, team, make_task, member, lead
):
    WipLimits.objects.create(team=team, limits={"in_progress": 1})
    busy, waiting = make_task(title="Busy"), make_task(title="Waiting")
    for task in (busy, waiting):
        services.assign_to(task=task, assignee=member, by=lead)
    services.start(task=busy, by=member)
    login(member)
    page.goto(f"{board_of(team)}?task={waiting.pk}")
    drawer = page.get_by_role("complementary", name="Task details")
    drawer.get_by_label("Note").fill("Starting after stand-up")
    drawer.get_by_role("button", name="Start", exact=True).click()
    expect(drawer.get_by_test_id("action-error")).to_contain_text("In progress is full (1/1")
    expect(drawer.get_by_label("Note")).to_have_value("Starting after stand-up")
    expect(drawer.get_by_test_id("drawer-state")).to_have_text("Assigned")
    expect(cell(page, "assigned").locator(f"#card-{waiting.pk}")).to_be_visible()


def test_keyboard_only_move_through_the_card_menu(page, login, team, task, member, lead):
    services.assign_to(task=task, assignee=member, by=lead)
    login(member)
    page.goto(board_of(team))
    card(page, task).focus()
    page.keyboard.press("m")  # the card's menu; focus moves into it
    expect(page.get_by_role("menuitem").first).to_be_focused()
    for _ in range(6):
        if "Start" in page.evaluate("document.activeElement.textContent"):
            break
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(cell(page, "in_progress").locator(f"#card-{task.pk}")).to_be_visible()


def test_filters_change_the_url_and_the_cards(page, login, team, make_task, member, lead):
    mine, other = make_task(title="Mine"), make_task(title="Not mine")
    services.assign_to(task=mine, assignee=member, by=lead)
    login(member)
    page.goto(board_of(team))
    expect(card(page, other)).to_be_visible()
    page.get_by_label("Assignee").select_option("me")
    expect(page).to_have_url(re.compile(r"assignee=me"))
    expect(card(page, other)).to_have_count(0)
    expect(card(page, mine)).to_be_visible()
    page.get_by_label("Search").fill("nothing like this")
    expect(page).to_have_url(re.compile(r"q=nothing"))
    expect(card(page, mine)).to_have_count(0)


def test_drawer_opens_in_the_url_takes_a_comment_and_closes_on_back(
    page, login, team, task, member
):
    login(member)
    page.goto(board_of(team))
    card(page, task).get_by_role("link", name=task.title).click()
    drawer = page.get_by_role("complementary", name="Task details")
    expect(drawer).to_be_visible()
    expect(page).to_have_url(re.compile(rf"task={task.pk}"))
    drawer.get_by_label("Comment").fill("Starting on the baseline today")
    drawer.get_by_role("button", name="Add comment").click()
    expect(drawer.get_by_test_id("drawer-comments")).to_contain_text(
        "Starting on the baseline today"
    )
    page.go_back()
    expect(drawer).to_be_hidden()
    assert "task=" not in page.url


def test_a_bookmarked_drawer_link_opens_the_whole_drawer(page, login, team, task, member):
    login(member)
    page.goto(f"{board_of(team)}?task={task.pk}")
    drawer = page.get_by_role("complementary", name="Task details")
    expect(drawer.get_by_role("heading", name=task.title)).to_be_visible()
    # The lazily loaded assignment panel fills its own slot, not the drawer's: the drawer
    # keeps its state and the panel offers the member the task.
    expect(drawer.get_by_text("Assignment", exact=True)).to_be_visible()
    expect(drawer.get_by_test_id("assign-to-me")).to_be_visible()
    expect(drawer.get_by_test_id("drawer-state")).to_have_text("To do")
    expect(drawer.get_by_label("Comment")).to_be_visible()


def test_someone_elses_move_appears_without_a_reload(page, login, team, task, member, lead):
    login(member)
    page.goto(board_of(team))
    page.evaluate("window.relayBoardMarker = 'same page'")
    services.assign_to(task=task, assignee=member, by=lead)  # a lead, elsewhere
    page.evaluate("window.relayPollNow()")
    expect(cell(page, "assigned").locator(f"#card-{task.pk}")).to_be_visible()
    assert page.evaluate("window.relayBoardMarker") == "same page"  # no reload happened


def test_a_card_being_dragged_is_not_yanked_by_a_refresh(
    page, login, team, make_task, member, lead
):
    held, other = make_task(title="Held in hand"), make_task(title="Changes elsewhere")
    login(member)
    page.goto(board_of(team))
    box = card(page, held).bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + 60, box["y"] + 40, steps=5)
    page.wait_for_function("() => document.body.classList.contains('dragging')")
    page.evaluate(f"window.heldCard = document.getElementById('card-{held.pk}')")
    services.assign_to(task=other, assignee=member, by=lead)  # the board changes meanwhile
    page.evaluate("window.relayPollNow()")
    assert page.evaluate("window.heldCard.isConnected")  # the very element, not a re-render
    assert page.evaluate("document.body.classList.contains('dragging')")
    page.mouse.up()
    page.evaluate("window.relayPollNow()")  # once dropped, the refresh goes through
    expect(cell(page, "assigned").locator(f"#card-{other.pk}")).to_be_visible()


def test_assigning_from_the_drawer_panel_moves_the_card(
    page, login, team, skilled_task, lead, member
):
    login(lead)
    page.goto(board_of(team))
    card(page, skilled_task).get_by_role("link", name=skilled_task.title).click()
    drawer = page.get_by_role("complementary", name="Task details")
    drawer.get_by_role("button", name="Auto-assign").click()
    expect(cell(page, "assigned").locator(f"#card-{skilled_task.pk}")).to_be_visible()
    expect(drawer.get_by_test_id("drawer-state")).to_have_text("Assigned")
