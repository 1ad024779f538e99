"""Reading a rendered page the way a person does: the text of one element, not the whole page.

`"Done" in response.content` is true of almost any page (a nav label, a filter option, a column
head); `text_of(html, testid="task-state") == "Done"` is true only where the state is shown.
Elements are found by id, test id or class, which survive moving markup into partials.
"""

from html.parser import HTMLParser

# Elements without an end tag: they open nothing.
_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "wbr",
}
# Elements that flow inside a line of text; any other tag separates words, as on screen.
_INLINE = {"a", "abbr", "b", "code", "em", "i", "kbd", "q", "small", "span", "strong", "sub", "sup"}


def _matches(attrs: dict[str, str | None], wanted: dict[str, str]) -> bool:
    for name, value in wanted.items():
        if name == "class":
            if value not in (attrs.get("class") or "").split():
                return False
        elif attrs.get(name) != value:
            return False
    return True


class _Elements(HTMLParser):
    """Collects the text (entities decoded, whitespace collapsed) of every matching element."""

    def __init__(self, wanted: dict[str, str]):
        super().__init__(convert_charrefs=True)
        self.wanted = wanted
        self.open: list[list] = []  # [depth, text parts, index in found] of open matches
        self.found: list[str] = []
        self.attrs: list[dict[str, str | None]] = []  # each match's attributes, in page order

    def _boundary(self, tag):
        if tag not in _INLINE:
            self.handle_data(" ")

    def handle_starttag(self, tag, attrs):
        self._boundary(tag)
        matched = _matches(dict(attrs), self.wanted)
        if matched:
            self.attrs.append(dict(attrs))
        if tag in _VOID:
            if matched:
                self.found.append("")
            return
        for match in self.open:
            match[0] += 1
        if matched:
            self.open.append([1, [], len(self.found)])
            self.found.append("")

    def handle_startendtag(self, tag, attrs):
        self._boundary(tag)
        if _matches(dict(attrs), self.wanted):
            self.attrs.append(dict(attrs))
            self.found.append("")

    def handle_endtag(self, tag):
        self._boundary(tag)
        if tag in _VOID:
            return
        for match in list(self.open):
            match[0] -= 1
            if match[0] == 0:
                self.open.remove(match)
                self.found[match[2]] = " ".join("".join(match[1]).split())

    def handle_data(self, data):
        for match in self.open:
            match[1].append(data)


def _wanted(id, testid, class_, attrs) -> dict[str, str]:
    wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
    if id is not None:
        wanted["id"] = id
    if testid is not None:
        wanted["data-testid"] = testid
    if class_ is not None:
        wanted["class"] = class_
    return wanted


def _parse(html, wanted) -> _Elements:
    if hasattr(html, "content"):  # a response
        html = html.content
    if isinstance(html, bytes):
        html = html.decode()
    parser = _Elements(wanted)
    parser.feed(html)
    parser.close()
    return parser


def texts_of(html, *, id=None, testid=None, class_=None, **attrs) -> list[str]:
    """The text of every element with these attributes, in page order (nested ones too)."""
    return _parse(html, _wanted(id, testid, class_, attrs)).found


def text_of(html, *, id=None, testid=None, class_=None, **attrs) -> str:
    """The text of the first element with these attributes; fails if there is none."""
    found = texts_of(html, id=id, testid=testid, class_=class_, **attrs)
    assert found, f"no element with {_wanted(id, testid, class_, attrs)} on the page"
    return found[0]


def values_of(html, attribute, *, id=None, testid=None, class_=None, **attrs) -> list[str | None]:
    """One attribute of every element with these attributes: the `value` of each action
    button, say (`values_of(page, "value", name="action")`)."""
    parser = _parse(html, _wanted(id, testid, class_, attrs))
    return [found.get(attribute) for found in parser.attrs]
