"""Text as it is shown or sent."""


def single_line(text: str) -> str:
    """Text that must stay on one line (a title, an e-mail subject): every run of whitespace,
    CR, LF and Unicode line separators included, becomes one space."""
    return " ".join(text.split())
