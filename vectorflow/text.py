"""What any stored text must be: no NUL characters (PostgreSQL cannot store them) and valid
Unicode (a lone surrogate, which JSON's ``"\\ud800"`` can carry, cannot be encoded)."""
from __future__ import annotations

NUL_PROBLEM = "must not contain NUL characters"
SURROGATE_PROBLEM = "must be valid Unicode (it holds a lone surrogate)"


def text_problem(value: str) -> str | None:
    """Return why ``value`` cannot be stored as text (for a message naming the field), or None."""
    if "\x00" in value:
        return NUL_PROBLEM
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE_PROBLEM
    return None
