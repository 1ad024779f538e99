"""Attachments in a real browser: upload on the task page, download it, preview an image
attached in the drawer; another team's member gets 404 for the file."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from apps.tasks.models import Attachment

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360f8cf000000030101004b6f6ed00000000049454e44ae426082"
)


def test_upload_download_and_another_team_gets_404(page, login, task, member, outsider):
    login(member)
    page.goto(task.get_absolute_url())
    files = page.get_by_test_id("attachments")
    expect(files).to_contain_text("No files attached.")
    page.get_by_label("Attach a file", exact=True).first.set_input_files(
        {"name": "report.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.get_by_role("button", name="Upload").click()
    expect(files.get_by_role("link", name="report.pdf")).to_be_visible()
    with page.expect_download() as download:
        files.get_by_role("link", name="report.pdf").click()
    assert download.value.suggested_filename == "report.pdf"
    assert Path(download.value.path()).read_bytes() == PDF
    page.reload()
    expect(page.get_by_test_id("history")).to_contain_text("attached report.pdf")

    url = Attachment.objects.get().get_absolute_url()
    page.context.clear_cookies()
    login(outsider)
    response = page.goto(url)
    assert response.status == 404


def test_an_image_attached_in_the_drawer_is_previewed(page, login, team, task, member):
    login(member)
    page.goto(f"/teams/{team.slug}/board/?task={task.pk}")
    drawer = page.get_by_role("complementary", name="Task details")
    drawer.locator("#drawer-attach-file").set_input_files(
        {"name": "auc.png", "mimeType": "image/png", "buffer": PNG}
    )
    drawer.get_by_role("button", name="Upload").click()
    preview = drawer.get_by_role("img", name="auc.png")
    expect(preview).to_be_visible()
    # The image came through the protected view and decoded: it has a size.
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 1", arg=preview.element_handle()
    )
