"""Alerts as people on call see them: a firing alert appears live, a suppressed one says so."""
import httpx
from playwright.sync_api import expect

from .test_live_maintenance import watch


def admin_token(stack) -> str:
    """A personal API token of the stack's ADMIN, made in the stack's database."""
    from vectorflow.extensions import db
    from vectorflow.models import User
    from vectorflow.services import tokens

    app = stack.app()
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == "admin@example.com"))
        _, raw = tokens.create_personal_token(user, "e2e-alerts")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return raw


class Probe:
    """A hand-driven agent: enrolls, reads its config, sends the heartbeats a test needs."""

    def __init__(self, stack, hostname):
        self.http = httpx.Client(base_url=stack.url, timeout=10)
        enrolled = self.http.post("/api/agent/enroll", json={
            "token": stack.enroll_token, "hostname": hostname}).raise_for_status().json()
        self.node_id = enrolled["nodeId"]
        self.http.headers["Authorization"] = f"Bearer {enrolled['nodeToken']}"

    def pipelines(self):
        return self.http.get("/api/agent/config").raise_for_status().json()["pipelines"]

    def heartbeat(self, **body):
        self.http.post("/api/agent/heartbeat", json={"pipelines": [], **body}).raise_for_status()


def test_a_firing_alert_appears_live_and_a_suppressed_one_is_marked(login, stack, shot):
    api = httpx.Client(base_url=stack.url, timeout=10,
                       headers={"Authorization": f"Bearer {admin_token(stack)}"})
    crashing = Probe(stack, "probe-crash")
    resting = Probe(stack, "probe-rest")
    try:
        api.post(f"/api/v1/nodes/{resting.node_id}/maintenance",
                 json={"enabled": True, "reason": "firmware", "force": True}).raise_for_status()
        firing = login("VIEWER", "/alerts/")
        suppressed = login("VIEWER", "/alerts/?view=suppressed")
        for page in (firing, suppressed):
            watch(page)
        count = firing.locator("#alert-count")
        before = int(count.get_attribute("data-count"))

        [pipeline, *_] = crashing.pipelines()
        crashing.heartbeat(pipelines=[{"pipelineId": pipeline["pipelineId"],
                                       "version": pipeline["version"], "status": "CRASHED"}])
        row = firing.locator("#alerts-table tr[data-rule=pipeline_crashed]",
                             has_text="probe-crash")
        expect(row).to_be_visible(timeout=5000)
        expect(row.get_by_test_id("alert-state")).to_have_text("Firing")
        expect(count).to_have_attribute("data-count", str(before + 1), timeout=5000)
        shot(firing, "firing-alert-live")

        resting.heartbeat(updateError="checksum mismatch")
        quiet = suppressed.locator("#alerts-table tr[data-rule=agent_update_failed]",
                                   has_text="probe-rest")
        expect(quiet).to_be_visible(timeout=5000)
        expect(quiet).to_have_attribute("data-suppressed", "true")
        expect(quiet.get_by_test_id("alert-state")).to_have_text("Suppressed · maintenance")
        expect(firing.locator("#alerts-table tr", has_text="probe-rest")).to_have_count(0)
        expect(count).to_have_attribute("data-count", str(before + 1))
        for page in (firing, suppressed):
            assert page.evaluate("window.notReloaded") is True
        shot(suppressed, "suppressed-alert-marked")
    finally:
        for probe in (crashing, resting):
            api.delete(f"/api/v1/nodes/{probe.node_id}")
