"""Files attached to tasks and comments: what may be attached, who may remove it.

A file is judged by its content, never by the type the browser claims or by its name's
extension: images and PDFs by their magic bytes, text by decoding as UTF-8. The sniffed type
must be in settings.ATTACHMENT_CONTENT_TYPES, and a file that claims (by its declared type or
its extension) to be an image or a PDF must be one. The name the uploader gave is sanitised
and kept for showing; the bytes are stored under a random name in the "attachments" storage
(settings.STORAGES), which is never served at a public URL.
"""

import mimetypes
import unicodedata

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.refusals import Forbidden, Refused
from apps.people import selectors as people
from apps.people.models import User

from .models import Attachment, Comment, Task

# The longest name kept (the extension is kept whole within it).
NAME_MAX = 150

# Magic bytes of the binary types Relay recognises: (prefix, offset, type).
_MAGIC = [
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),  # after "RIFF" and the size
    (b"%PDF-", 0, "application/pdf"),
]
# Types that are only believed from their magic bytes.
_SNIFFED = {t for _prefix, _offset, t in _MAGIC}
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "application/x-pdf": "application/pdf",
}
_LABELS = {"application/pdf": "a PDF"}


def _label(content_type: str) -> str:
    return _LABELS.get(content_type) or f"a {content_type.split('/')[1].upper()} image"


class Unrecognised(Refused):
    status = 415


def sanitise_name(raw: str) -> str:
    """A file name fit to show and to offer as a download: its last path part, without
    control characters or characters file systems refuse, at most NAME_MAX long."""
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        "_" if ch in '<>:"|?*' else ch
        for ch in name
        if not unicodedata.category(ch).startswith(("C", "Z")) or ch == " "
    )
    name = " ".join(name.split()).strip(" .")
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: NAME_MAX - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:NAME_MAX].rstrip(" .")
    return name or "attachment"


def sniff(upload: UploadedFile) -> str | None:
    """The type the content shows itself to be, or None if Relay can't tell."""
    upload.seek(0)
    head = upload.read(16)
    for prefix, offset, content_type in _MAGIC:
        if head[offset : offset + len(prefix)] == prefix:
            if content_type == "image/webp" and head[:4] != b"RIFF":
                continue
            return content_type
    upload.seek(0)
    content = upload.read()
    upload.seek(0)
    if b"\x00" in content:
        return None
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "text/plain"


def content_type_of(*, upload: UploadedFile, name: str) -> str:
    """The type to store and serve `upload` as, or Refused saying why it can't be attached."""
    sniffed = sniff(upload)
    claimed = {_ALIASES.get(t, t) for t in (upload.content_type, mimetypes.guess_type(name)[0])}
    for claim in sorted(claimed & _SNIFFED):
        if claim != sniffed:
            raise Unrecognised(
                _("%(name)s claims to be %(kind)s, but its content is not.")
                % {"name": name, "kind": _label(claim)}
            )
    if sniffed == "text/plain" and "text/csv" in claimed:
        sniffed = "text/csv"
    if sniffed is None or sniffed not in settings.ATTACHMENT_CONTENT_TYPES:
        raise Unrecognised(
            _("%(name)s can't be attached: attach images, PDFs or text files.") % {"name": name}
        )
    return sniffed


def may_attach(*, task: Task, user: User) -> bool:
    """The task's team members attach files; staff looking in from outside don't."""
    return people.role_in(team_id=task.team_id, user=user) is not None


def may_remove(*, attachment: Attachment, user: User) -> bool:
    """Whoever attached it, or a lead of the task's team."""
    if not user.is_authenticated:
        return False
    return attachment.uploaded_by_id == user.pk or people.is_lead(
        team_id=attachment.task.team_id, user=user
    )


@transaction.atomic
def attach(
    *, task: Task, upload: UploadedFile, by: User, comment: Comment | None = None
) -> Attachment:
    """Attach `upload` to the task (or to its `comment`). Nothing is stored if it is refused:
    too big, empty, of a type not allowed, or claiming to be what it is not."""
    if not may_attach(task=task, user=by):
        raise Forbidden(_("Only the task's team members attach files."))
    if comment is not None and comment.task_id != task.pk:
        raise Refused(_("That comment is on another task."))
    name = sanitise_name(upload.name)
    limit = settings.ATTACHMENT_MAX_BYTES
    if upload.size > limit:
        raise Refused(
            _("%(name)s is %(size)s; files of at most %(limit)s can be attached.")
            % {"name": name, "size": filesizeformat(upload.size), "limit": filesizeformat(limit)},
            status=413,
        )
    if upload.size == 0:
        raise Refused(_("%(name)s is empty.") % {"name": name})
    content_type = content_type_of(upload=upload, name=name)
    attachment = Attachment(
        task=task,
        comment=comment,
        name=name,
        content_type=content_type,
        size=upload.size,
        uploaded_by=by,
    )
    upload.seek(0)
    attachment.file.save(name, upload, save=False)
    stored = attachment.file.name
    # The bytes are written before the row; if the row can't be, they go too.
    try:
        attachment.save()
    except BaseException:
        attachment.file.storage.delete(stored)
        raise
    return attachment


@transaction.atomic
def remove(*, attachment: Attachment, by: User) -> Attachment:
    """Remove an attachment: its bytes go (once the change is committed), the row stays for the
    task's history ("ada removed report.pdf")."""
    attachment = Attachment.objects.select_for_update().select_related("task").get(pk=attachment.pk)
    if not may_remove(attachment=attachment, user=by):
        raise Forbidden(_("Only whoever attached a file, or a lead, may remove it."))
    if attachment.removed_at is not None:
        raise Refused(_("%(name)s was removed already.") % {"name": attachment.name})
    stored, storage = attachment.file.name, attachment.file.storage
    attachment.removed_at = timezone.now()
    attachment.removed_by = by
    attachment.file = ""
    attachment.save(update_fields=["removed_at", "removed_by", "file"])
    transaction.on_commit(lambda: storage.delete(stored))
    return attachment
