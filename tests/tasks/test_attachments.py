"""Attachments: what may be attached, who sees it, who removes it."""

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.core.refusals import Forbidden, Refused
from apps.tasks import attachments, services
from apps.tasks.models import Attachment

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


def upload(name="report.pdf", content=PDF, content_type="application/pdf"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def stored_files():
    storage = storages["attachments"]
    if not storage.exists("tasks"):
        return []
    found = []
    for folder in storage.listdir("tasks")[0]:
        found += storage.listdir(f"tasks/{folder}")[1]
    return found


def test_a_member_attaches_a_pdf_and_the_history_says_so(client_for, task, member):
    attachment = attachments.attach(task=task, upload=upload(), by=member)
    assert attachment.content_type == "application/pdf"
    assert attachment.size == len(PDF)
    assert storages["attachments"].open(attachment.file.name).read() == PDF
    page = client_for(member).get(task.get_absolute_url()).content.decode()
    assert f"{member.display_name}</strong> attached report.pdf" in page


def test_too_big_is_refused_with_the_limit_and_nothing_is_stored(settings, task, member):
    settings.ATTACHMENT_MAX_BYTES = 1024
    with pytest.raises(Refused, match=r"report.pdf is 2.0\xa0KB; files of at most 1.0\xa0KB"):
        attachments.attach(task=task, upload=upload(content=PDF + b"x" * 2048), by=member)
    assert not Attachment.objects.exists()
    assert stored_files() == []


def test_a_type_not_allowed_is_refused(task, member):
    zip_bytes = b"PK\x03\x04" + b"\x00" * 30 + b"\xff\xfe"
    with pytest.raises(Refused, match="can't be attached: attach images, PDFs or text files"):
        attachments.attach(
            task=task, upload=upload("tool.zip", zip_bytes, "application/zip"), by=member
        )
    assert not Attachment.objects.exists()


def test_the_allow_list_is_a_setting(settings, task, member):
    settings.ATTACHMENT_CONTENT_TYPES = ["image/png"]
    with pytest.raises(Refused, match="can't be attached"):
        attachments.attach(task=task, upload=upload(), by=member)


def test_html_claiming_to_be_a_png_is_refused(task, member):
    html = b"<html><script>alert(document.cookie)</script></html>"
    with pytest.raises(Refused, match=r"cat\.png claims to be a PNG image, but its content is not"):
        attachments.attach(task=task, upload=upload("cat.png", html, "image/png"), by=member)
    # The extension alone is a claim too, whatever type the browser sent.
    with pytest.raises(Refused, match="claims to be a PDF"):
        attachments.attach(task=task, upload=upload("x.pdf", html, "text/plain"), by=member)
    assert not Attachment.objects.exists()


def test_the_type_is_sniffed_not_taken_from_the_browser(task, member):
    attachment = attachments.attach(
        task=task, upload=upload("photo", PNG, "application/octet-stream"), by=member
    )
    assert attachment.content_type == "image/png"
    text = attachments.attach(
        task=task, upload=upload("page.html", b"<h1>hi</h1>", "text/html"), by=member
    )
    assert text.content_type == "text/plain"  # served as text, as a download, never as HTML


def test_text_is_served_as_a_utf8_text_download(client_for, task, member):
    text = attachments.attach(
        task=task, upload=upload("page.html", b"<h1>hi</h1>", "text/html"), by=member
    )
    response = client_for(member).get(text.get_absolute_url())
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ada\\report.pdf", "report.pdf"),
        ("evil\x00name\r\n.pdf", "evilname.pdf"),
        ('a<b>:"c"|?*.txt', "a_b___c____.txt"),
        ("...", "attachment"),
        ("x" * 300 + ".pdf", "x" * 146 + ".pdf"),
    ],
)
def test_names_are_sanitised(raw, clean):
    assert attachments.sanitise_name(raw) == clean


def test_an_outsider_cannot_attach(task, outsider):
    with pytest.raises(Forbidden):
        attachments.attach(task=task, upload=upload(), by=outsider)


def test_the_uploader_or_a_lead_removes_nobody_else(
    django_capture_on_commit_callbacks, task, member, other_member, lead
):
    mine = attachments.attach(task=task, upload=upload(), by=member)
    with pytest.raises(Forbidden, match="Only whoever attached a file, or a lead"):
        attachments.remove(attachment=mine, by=other_member)
    assert len(stored_files()) == 1
    with django_capture_on_commit_callbacks(execute=True):
        attachments.remove(attachment=mine, by=member)
    theirs = attachments.attach(task=task, upload=upload("b.pdf"), by=other_member)
    with django_capture_on_commit_callbacks(execute=True):
        attachments.remove(attachment=theirs, by=lead)
    assert Attachment.objects.filter(removed_at__isnull=True).count() == 0
    assert stored_files() == []
    with pytest.raises(Refused, match="removed already"):
        attachments.remove(attachment=theirs, by=lead)


def test_removal_shows_in_history_and_the_file_is_gone(client_for, task, member):
    attachment = attachments.attach(task=task, upload=upload(), by=member)
    client = client_for(member)
    client.post(reverse("tasks:attachment_remove", args=[attachment.pk]))
    page = client.get(task.get_absolute_url()).content.decode()
    assert "removed report.pdf" in page
    assert client.get(attachment.get_absolute_url()).status_code == 404


# --- served only to people who may see the task ----------------------------------------------


def test_download_is_an_attachment_with_nosniff_and_a_sandbox(client_for, task, member):
    attachment = attachments.attach(task=task, upload=upload(), by=member)
    response = client_for(member).get(attachment.get_absolute_url())
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="report.pdf"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]


def test_an_image_is_served_inline_and_previewed(client_for, task, member):
    attachment = attachments.attach(
        task=task, upload=upload("cat.png", PNG, "image/png"), by=member
    )
    client = client_for(member)
    response = client.get(attachment.get_absolute_url())
    assert response["Content-Disposition"].startswith("inline;")
    assert response["Content-Type"] == "image/png"
    page = client.get(task.get_absolute_url()).content.decode()
    assert f'<img src="{attachment.get_absolute_url()}" alt="cat.png"' in page


def test_another_teams_member_gets_404_and_anonymous_the_login(
    client, client_for, task, member, outsider
):
    attachment = attachments.attach(task=task, upload=upload(), by=member)
    response = client.get(attachment.get_absolute_url())
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
    assert client_for(outsider).get(attachment.get_absolute_url()).status_code == 404
    removal = client_for(outsider).post(reverse("tasks:attachment_remove", args=[attachment.pk]))
    assert removal.status_code == 404
    assert Attachment.objects.get().removed_at is None


def test_a_member_who_may_not_remove_is_told_why(client_for, task, member, other_member):
    attachment = attachments.attach(task=task, upload=upload(), by=member)
    response = client_for(other_member).post(
        reverse("tasks:attachment_remove", args=[attachment.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 403
    assert "Only whoever attached a file, or a lead" in response.content.decode()


# --- upload from the page, the drawer and a comment -------------------------------------------


def test_upload_from_the_page_answers_with_the_files_section(client_for, task, member):
    response = client_for(member).post(
        reverse("tasks:task_attach", args=[task.pk]),
        {"file": upload(), "ctx": "drawer"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="drawer-attachments"' in html
    assert "report.pdf" in html


def test_a_refused_upload_says_why_in_place(settings, client_for, task, member):
    settings.ATTACHMENT_MAX_BYTES = 10
    response = client_for(member).post(
        reverse("tasks:task_attach", args=[task.pk]), {"file": upload()}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 413
    assert "files of at most 10\xa0bytes can be attached" in response.content.decode()


def test_a_file_attached_to_a_comment_shows_under_it(client_for, task, member):
    client = client_for(member)
    response = client.post(
        reverse("boards:comment", args=[task.pk]),
        {"body": "the results", "file": upload("auc.png", PNG, "image/png")},
    )
    assert response.status_code == 200
    comment = task.comments.get()
    assert comment.attachments.get().name == "auc.png"
    assert "auc.png" in response.content.decode()


def test_a_comment_whose_file_is_refused_is_not_posted(client_for, task, member):
    response = client_for(member).post(
        reverse("tasks:task_comment", args=[task.pk]),
        {"body": "see attached", "file": upload("cat.png", b"not a png", "image/png")},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    assert "claims to be a PNG image" in response.content.decode()
    assert not task.comments.exists()
    assert not Attachment.objects.exists()


def test_drawer_shows_files(client_for, task, member):
    attachments.attach(task=task, upload=upload(), by=member)
    response = client_for(member).get(reverse("boards:drawer", args=[task.pk]))
    assert 'data-testid="drawer-attachments"' in response.content.decode()
    assert "report.pdf" in response.content.decode()
    assert services  # the services module stays the one that creates tasks here
