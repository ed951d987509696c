"""The per-process hub: a ring buffer of recent events that streams wait on."""
from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def sse_message(data: str, *, event: str | None = None, id: int | None = None) -> str:
    """Format one server-sent-events message; every line of ``data`` gets its own prefix."""
    lines = []
    if id is not None:
        lines.append(f"id: {id}")
    if event:
        lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in (data.splitlines() or [""]))
    return "\n".join(lines) + "\n\n"


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(eq=False)
class LiveEvent:
    """One committed outbox row, serialised once per process for every stream."""

    id: int
    type: str
    team_id: str | None
    environment_id: str | None
    node_id: str | None
    payload: dict
    created_at: datetime | None
    data: str = ""
    message: bytes = b""
    # Per-consumer renderings (e.g. the agent push message), computed once per process.
    memo: dict[str, Any] = field(default_factory=dict)
    # An event about several nodes (samples.closed) names them in its payload's "nodeIds":
    # a stream filtered to one of them gets it too.
    node_ids: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        many = (self.payload or {}).get("nodeIds")
        if isinstance(many, list):
            self.node_ids = frozenset(i for i in many if isinstance(i, str))
        self.data = json.dumps({
            "id": self.id,
            "type": self.type,
            "teamId": self.team_id,
            "environmentId": self.environment_id,
            "nodeId": self.node_id,
            "payload": self.payload or {},
            "createdAt": _iso(self.created_at),
        }, separators=(",", ":"), default=str)
        # Named once by type (for API clients) and once per node, so a page element can
        # listen to just its node (hx-trigger="sse:node-<id>"). Same id on both messages.
        names = [self.type] + ([f"node-{self.node_id}"] if self.node_id else [])
        self.message = "".join(sse_message(self.data, event=name, id=self.id)
                               for name in names).encode()

    @classmethod
    def from_row(cls, row) -> LiveEvent:
        """Build a live event from a row of the ``events`` table."""
        return cls(id=row.id, type=row.type, team_id=row.team_id,
                   environment_id=row.environment_id, node_id=row.node_id,
                   payload=row.payload or {}, created_at=row.created_at)


class Hub:
    """Recent events of this process, in id order, with a condition streams wait on."""

    def __init__(self, size: int = 2048):
        self._cond = threading.Condition()
        self._ring: deque[LiveEvent] = deque(maxlen=size)
        self.last_id = 0
        # Every event with an id above ``floor`` is in the ring; None until the feed starts.
        self.floor: int | None = None
        self.closed = False

    def start_at(self, head: int) -> None:
        """Begin the ring after ``head``, the newest id already committed."""
        with self._cond:
            if self.floor is None:
                self.floor = self.last_id = head

    def push(self, events: list[LiveEvent]) -> None:
        """Append committed events (in id order) and wake every waiting stream."""
        with self._cond:
            added = False
            for ev in events:
                if ev.id <= self.last_id:
                    continue
                if len(self._ring) == self._ring.maxlen:
                    self.floor = self._ring[0].id
                self._ring.append(ev)
                self.last_id = ev.id
                added = True
            if added:
                self._cond.notify_all()

    def since(self, cursor: int) -> list[LiveEvent] | None:
        """Return the events after ``cursor``, or None when the ring no longer holds them all."""
        with self._cond:
            return self._since(cursor)

    def _since(self, cursor: int) -> list[LiveEvent] | None:
        if self.floor is None or cursor < self.floor:
            return None
        newer = []
        for ev in reversed(self._ring):
            if ev.id <= cursor:
                break
            newer.append(ev)
        newer.reverse()
        return newer

    def wait(self, cursor: int, timeout: float) -> list[LiveEvent] | None:
        """Wait up to ``timeout`` seconds for events after ``cursor``; see ``since``."""
        with self._cond:
            if self.last_id <= cursor and not self.closed:
                self._cond.wait(timeout)
            return self._since(cursor)

    def close(self) -> None:
        """Wake every stream so it can end (server shutdown)."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()
