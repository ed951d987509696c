"""One maintenance vocabulary (services.maintenance.PHASES) on the node page: header badge,
banner and pipelines table agree with each other and with the fleet row, step by step, as
real heartbeats arrive."""
from __future__ import annotations

import re

from tests.factories import make_pipeline
from tests.maintenance.conftest import make_agent  # noqa: F401  (fixture)
from vectorflow.extensions import db
from vectorflow.services.actors import Actor
from vectorflow.services.maintenance import PHASES, set_maintenance

ALICE = Actor("user", "u1", "alice@example.com")


def toggle(node, enabled: bool) -> None:
    set_maintenance(node, enabled, force=True, actor=ALICE)
    db.session.commit()


def part(page: str, start: str, end: str) -> str:
    text = page[page.index(start):]
    return text[:text.index(end)]


def seen(client, node) -> dict:
    """What the node page and the node's fleet row say."""
    page = client.get(f"/nodes/{node.id}").get_data(as_text=True)
    header = part(page, 'id="node-header"', 'id="node-last-seen"')
    pipelines = part(page, 'id="node-pipelines"', "</section>")
    fleet = client.get("/").get_data(as_text=True)
    row = part(fleet, f'id="node-row-{node.id}"', "</tr>")
    phase = re.search(r'data-testid="maintenance-phase"[^>]*>([^<]+)<', header)
    return {
        "row_maintenance": 'data-testid="maintenance-badge"' in row,
        "header_maintenance": 'data-testid="maintenance-badge"' in header,
        "header_phase": phase.group(1) if phase else None,
        "banner": part(page, 'id="maintenance-panel"', "</div>\n</div>") if
        'id="maintenance-panel"' in page else "",
        "pipelines": pipelines,
    }


def beat(agent, pipeline, status=None):
    pipelines = [] if status is None else [{"pipelineId": pipeline.id, "version": 1,
                                            "status": status}]
    assert agent.heartbeat({"pipelines": pipelines}).status_code == 200


def test_each_phase_reads_the_same_in_the_header_banner_and_pipelines_table(
        make_agent, world, client, login_as):
    logs = make_pipeline(world.env, "logs")
    agent = make_agent("edge-1")
    beat(agent, logs, "RUNNING")
    login_as("VIEWER")
    assert seen(client, agent.node)["header_phase"] is None

    toggle(agent.node, True)
    now = seen(client, agent.node)
    assert now["row_maintenance"] and now["header_maintenance"]  # never "Healthy" beside it
    assert now["header_phase"] == PHASES["entering"].label
    assert PHASES["entering"].banner in now["banner"]

    beat(agent, logs, "RUNNING")  # it has not polled yet: still running
    now = seen(client, agent.node)
    assert now["header_phase"] == "Draining"
    assert "Running" in now["pipelines"] and PHASES["draining"].pipelines in now["pipelines"]
    assert "every pipeline on it is stopped" not in now["banner"].lower()

    beat(agent, logs)  # stopped everything
    now = seen(client, agent.node)
    assert now["header_phase"] == "Drained"
    assert "Every pipeline on it is stopped" in now["banner"]

    toggle(agent.node, False)
    now = seen(client, agent.node)
    assert not now["row_maintenance"] and not now["header_maintenance"]
    assert now["header_phase"] == "Leaving" and PHASES["leaving"].banner in now["banner"]

    beat(agent, logs, "STARTING")
    assert seen(client, agent.node)["header_phase"] == "Resuming"

    beat(agent, logs, "RUNNING")  # the heartbeat that reports running ends it, no timer
    now = seen(client, agent.node)
    assert now["header_phase"] is None and "maintenance-resuming" not in now["banner"]
    assert 'data-testid="pipelines-phase"' not in now["pipelines"]

