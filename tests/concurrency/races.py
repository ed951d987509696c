"""The vocabulary of the concurrency tests: parallel requests, agents, and what must hold after.

Requests go over HTTP to a real gunicorn server; what they changed is read back from the
database through the test's app (``db.session``), after a rollback so the test sees what
the server committed.
"""
from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Self

import httpx
import sqlalchemy as sa

from vectorflow.extensions import db
from vectorflow.models import AuditLog, Event, MaintenancePeriod, VectorNode

ENTERED, LEFT = "node.maintenance_entered", "node.maintenance_left"
# The maintenance_changed states that mark a transition (drained/resumed follow heartbeats).
TRANSITION_STATES = {"entered": ENTERED, "left": LEFT, "auto_exited": LEFT}
WAIT = 60.0  # upper bound of every wait on a condition; never a sleep for correctness

Call = Callable[[], httpx.Response]


def http_client(base_url: str, **headers: str) -> httpx.Client:
    """Return a client with enough pooled connections for the widest burst."""
    return httpx.Client(base_url=base_url, headers=headers, timeout=WAIT,
                        limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))


# ---------------------------------------------------------------- firing requests

def fire(calls: list[Call]) -> list[httpx.Response]:
    """Send every call at the same moment, one thread each; return the responses in order."""
    barrier = threading.Barrier(len(calls))

    def send(call: Call) -> httpx.Response:
        barrier.wait(timeout=WAIT)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(send, calls))


def statuses(responses: list[httpx.Response]) -> Counter:
    return Counter(r.status_code for r in responses)


class Meanwhile:
    """Repeat each call in its own thread for as long as the ``with`` block runs.

    Each loop stops after ``limit`` calls, so a slow block cannot make it run away.
    Entering waits until every loop has had an answer, so the block races live traffic;
    leaving fails if a call raised (a dropped connection is an answer too).
    """

    def __init__(self, *calls: Callable[[], object], limit: int = 400):
        self.limit = limit
        self.responses: list[httpx.Response] = []
        self.errors: list[Exception] = []
        self._stop = threading.Event()
        self._started = [threading.Event() for _ in calls]
        self._threads = [threading.Thread(target=self._loop, args=(call, started), daemon=True)
                         for call, started in zip(calls, self._started)]

    def _loop(self, call, started: threading.Event) -> None:
        try:
            for _ in range(self.limit):
                if self._stop.is_set():
                    break
                result = call()
                self.responses.extend(result if isinstance(result, tuple) else (result,))
                started.set()
        except Exception as err:  # noqa: BLE001 - reported when the block ends
            self.errors.append(err)
        finally:
            started.set()

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        for started in self._started:
            assert started.wait(WAIT), "a background loop never got an answer"
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(WAIT)
        if exc_type is None:
            assert not self.errors, f"background calls failed: {self.errors!r}"


# ---------------------------------------------------------------- callers

@dataclass
class Api:
    """The REST API as one token's holder calls it."""

    http: httpx.Client

    def post(self, path: str, body: dict | None = None) -> httpx.Response:
        return self.http.post(f"/api/v1{path}", json=body or {})

    def maintenance(self, node_id: str, enabled: bool, **options) -> httpx.Response:
        return self.post(f"/nodes/{node_id}/maintenance", {"enabled": enabled, **options})

    def bulk_maintenance(self, node_ids: list[str], enabled: bool, **options) -> httpx.Response:
        return self.post("/nodes/maintenance", {"nodeIds": node_ids, "enabled": enabled, **options})

    def delete_node(self, node_id: str) -> httpx.Response:
        return self.http.delete(f"/api/v1/nodes/{node_id}")

    def enrollment_token(self, environment_id: str) -> str:
        response = self.post(f"/environments/{environment_id}/enrollment-token")
        assert response.status_code == 200, response.text
        return response.json()["token"]

    def enter(self, node_id: str, **options) -> Call:
        return lambda: self.maintenance(node_id, True, **options)

    def leave(self, node_id: str) -> Call:
        return lambda: self.maintenance(node_id, False)


@dataclass
class Agent:
    """A vf-agent driven by hand: it runs whatever its last config poll delivered."""

    http: httpx.Client
    node_id: str
    token: str
    running: list[dict] = field(default_factory=list)

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def poll(self) -> httpx.Response:
        response = self.http.get("/api/agent/config", headers=self.auth)
        if response.status_code == 200:
            self.running = [{"pipelineId": p["pipelineId"], "version": p["version"],
                             "status": "RUNNING", "configChecksum": p["checksum"]}
                            for p in response.json()["pipelines"]]
        return response

    def heartbeat(self) -> httpx.Response:
        return self.http.post("/api/agent/heartbeat", headers=self.auth,
                              json={"pipelines": self.running, "agentVersion": "1.4.0"})

    def cycle(self) -> tuple[httpx.Response, httpx.Response]:
        """Poll, then report the delivered pipelines RUNNING, as an agent's tick does."""
        return self.poll(), self.heartbeat()


def enroll(http: httpx.Client, enrollment_token: str, hostname: str) -> Agent:
    """Enroll a node through the agent API and run its first tick."""
    response = http.post("/api/agent/enroll", json={"token": enrollment_token,
                                                    "hostname": hostname,
                                                    "agentVersion": "1.4.0"})
    assert response.status_code == 200, response.text
    body = response.json()
    agent = Agent(http, body["nodeId"], body["nodeToken"])
    assert [r.status_code for r in agent.cycle()] == [200, 200]
    return agent


# ---------------------------------------------------------------- what must hold

@dataclass
class MaintenanceRecord:
    """Everything that tells the story of one node's maintenance."""

    node_id: str
    audit: list[str]           # entered/left audit actions, oldest first
    events: list[str]          # transition events as the audit action they stand for
    periods: int
    open_periods: int
    in_maintenance: bool | None  # None: the node is gone

    @classmethod
    def read(cls, node_id: str) -> MaintenanceRecord:
        db.session.rollback()
        audit = list(db.session.scalars(
            sa.select(AuditLog.action)
            .where(AuditLog.entity_id == node_id, AuditLog.action.in_([ENTERED, LEFT]))
            .order_by(AuditLog.id)))
        payloads = db.session.scalars(
            sa.select(Event.payload)
            .where(Event.node_id == node_id, Event.type == "node.maintenance_changed")
            .order_by(Event.id))
        events = [TRANSITION_STATES[p["state"]] for p in payloads
                  if p.get("state") in TRANSITION_STATES]
        left_at = list(db.session.scalars(
            sa.select(MaintenancePeriod.left_at).where(MaintenancePeriod.node_id == node_id)))
        node = db.session.get(VectorNode, node_id)
        return cls(node_id, audit, events, len(left_at), left_at.count(None),
                   None if node is None else bool(node.maintenance_mode))

    def summary(self) -> str:
        counts = Counter(self.audit)
        return (f"{counts[ENTERED]} entered and {counts[LEFT]} left audit rows, "
                f"{len(self.events)} transition events, {self.periods} periods "
                f"({self.open_periods} open), node in maintenance: {self.in_maintenance}")


def alternates(actions: list[str]) -> bool:
    """Return whether the actions are entered, left, entered, ... (one per real transition)."""
    return all(action == (ENTERED if i % 2 == 0 else LEFT) for i, action in enumerate(actions))


def assert_one_change_per_transition(node_id: str, *, entered: int | None = None,
                                     left: int | None = None) -> MaintenanceRecord:
    """Assert audit rows = events = real transitions, periods follow them, and the node's
    state is where its last audit row left it; with counts, assert those too."""
    record = MaintenanceRecord.read(node_id)
    counts = Counter(record.audit)
    if entered is not None or left is not None:
        assert (counts[ENTERED], counts[LEFT]) == (entered, left), record.summary()
    assert alternates(record.audit), f"audit rows repeat a transition: {record.summary()}"
    assert record.events == record.audit, f"events differ from audit rows: {record.summary()}"
    assert record.open_periods <= 1, record.summary()
    assert record.periods == counts[ENTERED], record.summary()
    assert record.open_periods == (1 if record.in_maintenance else 0), record.summary()
    assert record.in_maintenance == (record.audit[-1:] == [ENTERED]), record.summary()
    return record


def audit_count(action: str, *, entity_id: str | None = None, name: str | None = None) -> int:
    """Return how many audit rows of ``action`` concern this entity, or an object so named."""
    db.session.rollback()
    query = sa.select(AuditLog).where(AuditLog.action == action)
    if entity_id is not None:
        query = query.where(AuditLog.entity_id == entity_id)
    return sum(1 for row in db.session.scalars(query)
               if name is None or (row.after or {}).get("name") == name)


def database_settled() -> bool:
    """Return whether no other session of the database is inside a statement or transaction
    (the server has finished what it was sent; its sweeps may start again at any time)."""
    return db.session.scalar(sa.text(
        "SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'"))


def in_maintenance(node_ids: list[str]) -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(VectorNode.id).where(
        VectorNode.id.in_(node_ids), VectorNode.maintenance_mode.is_(True))))


# ---------------------------------------------------------------- the server's log

ACCESS_5XX = re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (5\d\d) ')
OPAQUE_ID = re.compile(r"/[0-9a-f]{20}(?=/|$)")
EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Detected|Violation|Failure|"
                            r"Timeout|Exit|Interrupt)\w*)\b")


def log_problems(text: str) -> list[str]:
    """Return what the server log says went wrong: 5xx answers and tracebacks, summarised."""
    problems = []
    answers = Counter(f"{m[3]} {m[1]} {OPAQUE_ID.sub('/<id>', m[2])}"
                      for m in ACCESS_5XX.finditer(text))
    problems += [f"{n} x {answer}" for answer, n in sorted(answers.items())]
    lines = text.splitlines()
    exceptions = Counter()
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            for later in lines[i + 1:]:
                if not later.startswith((" ", "\t")):
                    match = EXCEPTION_LINE.match(later)
                    exceptions[match[1] if match else later[:80]] += 1
                    break
    problems += [f"{n} x Traceback ending in {name}" for name, n in sorted(exceptions.items())]
    return problems
