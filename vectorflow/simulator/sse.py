"""A minimal server-sent-events reader, as the agent parses its push stream."""
from __future__ import annotations

from collections.abc import AsyncIterator


async def iter_messages(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """Yield the data of each message: ``data:`` lines joined by newlines, ended by a blank line.

    Comment lines (starting with ``:``) are keep-alives and are skipped, as are ``event:``,
    ``id:`` and ``retry:`` fields, which the agent does not need.
    """
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
