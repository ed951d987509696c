"""A small HTTP/1.1 client on asyncio streams, for thousands of simulated agents in one process.

httpx's async pool costs milliseconds of CPU per request once hundreds of requests queue for
it (its pool is rescanned for every waiting request), which would make the simulator, not the
server, the bottleneck of a fleet benchmark on a small machine. This client keeps a LIFO pool
of keep-alive connections, JSON bodies only, Content-Length or chunked responses.
"""
from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit


class HTTPError(Exception):
    """A transport failure: connection refused or reset, timeout, malformed response."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


# Idle keep-alive connections older than this are closed rather than reused: the server closes
# them after its keep-alive timeout (gunicorn.conf.py: 75 s), and a request sent on a socket it
# has just closed fails.
MAX_IDLE = 30.0


class _Connection:
    __slots__ = ("reader", "writer", "used", "idle_since")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer, self.used = reader, writer, False
        self.idle_since = 0.0

    def close(self) -> None:
        self.writer.close()


def _target(url: str) -> tuple[str, int, ssl.SSLContext | None, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"unsupported URL scheme in {url!r}")
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    return parts.hostname or "localhost", port, ssl.create_default_context() if secure else None, \
        parts.netloc


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    line = await reader.readline()
    if not line:
        raise HTTPError("RemoteProtocolError", "connection closed before a response")
    try:
        status = int(line.split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise HTTPError("RemoteProtocolError", f"bad status line {line[:40]!r}") from None
    headers: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n"):
            return status, headers
        if not line:
            raise HTTPError("RemoteProtocolError", "connection closed in the headers")
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()


async def _read_chunks(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    while True:
        size_line = await reader.readline()
        if not size_line:
            raise HTTPError("RemoteProtocolError", "connection closed in a chunked body")
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            return
        chunk = await reader.readexactly(size)
        await reader.readexactly(2)
        yield chunk


class HTTPClient:
    """Requests to one server over a bounded pool of keep-alive connections."""

    def __init__(self, base_url: str, *, max_connections: int = 200, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.host, self.port, self.ssl, self.netloc = _target(self.base_url)
        self.timeout = timeout
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)
        self._open: set[_Connection] = set()

    async def _connect(self) -> _Connection:
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port, ssl=self.ssl,
                                                           limit=1 << 20)
        except OSError as err:
            raise HTTPError("ConnectError", str(err)) from None
        conn = _Connection(reader, writer)
        self._open.add(conn)
        return conn

    def _take_idle(self) -> _Connection | None:
        """Return the most recently used idle connection, closing any that idled too long."""
        oldest_allowed = time.monotonic() - MAX_IDLE
        while self._idle and self._idle[0].idle_since < oldest_allowed:
            self._discard(self._idle.pop(0))
        return self._idle.pop() if self._idle else None

    def _discard(self, conn: _Connection) -> None:
        self._open.discard(conn)
        conn.close()

    def _encode(self, method: str, path: str, headers: dict | None, body: bytes | None,
                keep_alive: bool = True, accept: str = "application/json") -> bytes:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.netloc}",
                 "User-Agent: vf-agent-simulator", f"Accept: {accept}"]
        if not keep_alive:
            lines.append("Connection: close")
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body is not None:
            lines.append("Content-Type: application/json")
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")

    async def request(self, method: str, path: str, *, headers: dict | None = None,
                      json_body=None) -> Response:
        """Send one request and return the whole response; raise HTTPError on transport failure."""
        body = json.dumps(json_body, separators=(",", ":")).encode() if json_body is not None \
            else None
        payload = self._encode(method, path, headers, body)
        async with self._slots:
            for attempt in (1, 2):
                # The retry always takes a new connection: the next idle one may be stale too.
                conn = self._take_idle() if attempt == 1 else None
                conn = conn or await self._connect()
                reused = conn.used
                try:
                    async with asyncio.timeout(self.timeout):
                        conn.writer.write(payload)
                        status, head = await _read_head(conn.reader)
                        data = await self._read_body(conn, head)
                except TimeoutError:
                    self._discard(conn)
                    raise HTTPError("Timeout", f"{method} {path}") from None
                except (HTTPError, OSError, asyncio.IncompleteReadError, ValueError) as err:
                    self._discard(conn)
                    # A kept-alive connection the server has just closed: retry once on a new one.
                    if reused and attempt == 1:
                        continue
                    if isinstance(err, HTTPError):
                        raise
                    raise HTTPError("ReadError", str(err) or type(err).__name__) from None
                conn.used = True
                if head.get("connection", "").lower() == "close":
                    self._discard(conn)
                else:
                    conn.idle_since = time.monotonic()
                    self._idle.append(conn)
                return Response(status, head, data)
        raise HTTPError("ReadError", "unreachable")  # pragma: no cover

    async def _read_body(self, conn: _Connection, head: dict[str, str]) -> bytes:
        if "content-length" in head:
            return await conn.reader.readexactly(int(head["content-length"]))
        if head.get("transfer-encoding", "").lower() == "chunked":
            return b"".join([chunk async for chunk in _read_chunks(conn.reader)])
        head["connection"] = "close"
        return await conn.reader.read()

    async def stream_lines(self, path: str, *, headers: dict | None = None,
                           connect_timeout: float = 10.0, read_timeout: float | None = 90.0):
        """Open a GET stream on its own connection; return (status, headers, line iterator)."""
        conn = await self._connect()
        try:
            async with asyncio.timeout(connect_timeout):
                conn.writer.write(self._encode("GET", path, headers, None, keep_alive=False,
                                               accept="text/event-stream"))
                status, head = await _read_head(conn.reader)
        except TimeoutError:
            self._discard(conn)
            raise HTTPError("Timeout", f"GET {path}") from None
        except (HTTPError, OSError) as err:
            self._discard(conn)
            raise HTTPError(getattr(err, "kind", "ReadError"), str(err)) from None
        return status, head, self._lines(conn, head, read_timeout)

    async def _lines(self, conn: _Connection, head: dict[str, str],
                     read_timeout: float | None) -> AsyncIterator[str]:
        chunked = head.get("transfer-encoding", "").lower() == "chunked"
        buffer = b""
        try:
            while True:
                async with asyncio.timeout(read_timeout):
                    if chunked:
                        size_line = await conn.reader.readline()
                        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                        if size == 0:
                            return
                        data = await conn.reader.readexactly(size)
                        await conn.reader.readexactly(2)
                    else:
                        data = await conn.reader.read(65536)
                        if not data:
                            return
                buffer += data
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    yield line.rstrip(b"\r").decode("utf-8", "replace")
        except TimeoutError:
            raise HTTPError("ReadTimeout", "push stream went quiet") from None
        except (OSError, asyncio.IncompleteReadError, ValueError) as err:
            raise HTTPError("ReadError", str(err) or type(err).__name__) from None
        finally:
            self._discard(conn)

    async def aclose(self) -> None:
        """Close every open connection."""
        for conn in list(self._open):
            self._discard(conn)
        self._idle.clear()
