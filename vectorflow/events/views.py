"""Event stream views."""
from . import bp  # noqa: F401
