"""A small blocking event-stream client for tests: every read has a timeout."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx


@dataclass
class Block:
    """One blank-line-terminated block of an event stream."""

    event: str | None = None
    data: str | None = None
    id: str | None = None
    retry: int | None = None
    comments: list[str] = field(default_factory=list)

    @property
    def json(self) -> dict:
        return json.loads(self.data)

    @property
    def is_message(self) -> bool:
        """Whether a browser would dispatch this block as an event."""
        return self.data is not None


class EventStreamClient:
    """Open ``url`` and read the event stream block by block (raises on a silent server)."""

    def __init__(self, url: str, headers: dict | None = None, timeout: float = 5.0):
        self._client = httpx.Client(timeout=httpx.Timeout(timeout))
        self._context = self._client.stream("GET", url, headers=headers or {})
        self.response = self._context.__enter__()
        self.raw_lines: list[str] = []
        self._lines = self.response.iter_lines()

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self.response.headers

    def next_block(self) -> Block:
        """Return the next block, comment-only blocks included."""
        block, seen = Block(), False
        for line in self._lines:
            self.raw_lines.append(line)
            if line == "":
                if seen:
                    return block
                continue
            seen = True
            if line.startswith(":"):
                block.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                block.data = value if block.data is None else block.data + "\n" + value
            elif name == "event":
                block.event = value
            elif name == "id":
                block.id = value
            elif name == "retry":
                block.retry = int(value)
        raise EOFError("the stream ended")

    def next_message(self) -> Block:
        """Return the next block a browser would dispatch (skipping comments and bare ids)."""
        while True:
            block = self.next_block()
            if block.is_message:
                return block

    def messages(self, count: int) -> list[Block]:
        """Return the next ``count`` messages."""
        return [self.next_message() for _ in range(count)]

    def close(self) -> None:
        self._context.__exit__(None, None, None)
        self._client.close()
