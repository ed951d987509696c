"""Agent endpoints: enroll, config, heartbeat, push."""
from . import bp  # noqa: F401
