"""Comments in a safe subset of Markdown, with @mentions.

A comment is rendered once, when it is saved, and the HTML is stored next to its text: the
history of a busy task shows dozens of comments on every drawer open and board poll, and a
stored string costs nothing to show. Rendering is two steps, each enough on its own:
markdown-it parses with raw HTML switched off (a `<script>` is text, not a tag), and nh3
then keeps only the allow-listed tags, attributes and URL schemes of what came out.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

import nh3
from django.utils.html import escape
from markdown_it import MarkdownIt
from markdown_it.token import Token

ALLOWED_TAGS = {
    "p",
    "br",
    "em",
    "strong",
    "code",
    "pre",
    "ul",
    "ol",
    "li",
    "blockquote",
    "a",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
ALLOWED_CLASSES = {"a": {"mention"}}
URL_SCHEMES = {"http", "https", "mailto"}

# "@ada", "@ada.l" — not the middle of an e-mail address, not a trailing full stop.
MENTION = re.compile(r"(?<![\w@])@([\w.+-]*[\w+-])")

# CommonMark without raw HTML, tables or images (images are dropped by nh3 too); linkify off
# so only what the author wrote as a link becomes one. Breaks: a single newline is a line
# break, as people type in a comment box.
_md = MarkdownIt("commonmark", {"html": False, "breaks": True}).disable(
    ["image", "html_inline", "html_block"]
)


@dataclass(frozen=True)
class Rendered:
    html: str
    mentioned: list[str]  # usernames, in order of first mention, each once


def render(body: str, *, link: Callable[[str], tuple[str, str] | None]) -> Rendered:
    """Markdown → sanitised HTML. `link(username)` gives (url, name) for a person who may be
    mentioned here, or None: an unknown or outside @name stays plain text."""
    tokens = _md.parse(body)
    mentioned: dict[str, None] = {}
    for token in tokens:
        if token.type == "inline" and token.children:
            token.children = _with_mentions(token.children, link=link, mentioned=mentioned)
    html = _md.renderer.render(tokens, _md.options, {})
    return Rendered(html=clean(html), mentioned=list(mentioned))


def _with_mentions(children: list[Token], *, link, mentioned: dict) -> list[Token]:
    """Text tokens outside links with @name in them become text + a mention link + text."""
    out: list[Token] = []
    in_link = 0
    for child in children:
        if child.type == "link_open":
            in_link += 1
        elif child.type == "link_close":
            in_link -= 1
        if child.type != "text" or in_link or "@" not in child.content:
            out.append(child)
            continue
        position = 0
        for match in MENTION.finditer(child.content):
            username = match.group(1)
            target = link(username)
            if target is None:
                continue
            mentioned.setdefault(username, None)
            out.append(_text(child.content[position : match.start()]))
            url, name = target
            anchor = Token("html_inline", "", 0)
            anchor.content = (
                f'<a class="mention" href="{escape(url)}" title="@{escape(username)}">'
                f"@{escape(name)}</a>"
            )
            out.append(anchor)
            position = match.end()
        if position == 0:
            out.append(child)
        else:
            out.append(_text(child.content[position:]))
    return out


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def clean(html: str) -> str:
    """Keep only the allow-list: anything else (a tag, an attribute, a javascript: link) goes."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener",
        strip_comments=True,
    )
