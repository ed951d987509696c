"""What any stored text must be: no NUL characters (PostgreSQL cannot store them) and valid
Unicode (a lone surrogate, which JSON's ``"\\ud800"`` can carry, cannot be encoded)."""
from __future__ import annotations


def text_problem(value: str) -> str | None:
    """Return why ``value`` cannot be stored as text (for a message naming the field), or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode (it holds a lone surrogate)"
    return None
