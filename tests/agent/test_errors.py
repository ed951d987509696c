"""Agent API errors are JSON: oversized bodies, wrong methods, unknown paths; never a stack trace."""


def test_a_body_over_one_mebibyte_is_refused_with_413_json(agent):
    body = b'{"pipelines": [], "padding": "' + b"x" * (1024 * 1024) + b'"}'
    response = agent.client.post("/api/agent/heartbeat", data=body, headers=agent.headers,
                                 content_type="application/json")
    assert response.status_code == 413
    assert response.get_json() == {"error": "Payload too large"}


def test_an_oversized_enrollment_is_413_too(client):
    response = client.post("/api/agent/enroll", data=b"x" * (1024 * 1024 + 1),
                           content_type="application/json")
    assert response.status_code == 413 and response.is_json


def test_a_wrong_method_is_405_json(agent):
    response = agent.client.post("/api/agent/config", headers=agent.headers)
    assert response.status_code == 405
    assert response.get_json() == {"error": "Method not allowed"}
    assert agent.client.get("/api/agent/heartbeat").status_code == 405


def test_an_unknown_agent_path_is_404_json(client):
    response = client.get("/api/agent/nope")
    assert response.status_code == 404 and response.get_json() == {"error": "Not found"}


def test_a_server_error_is_json_without_a_stack_trace(agent, monkeypatch):
    from vectorflow.agent import views

    def explode(node):
        raise RuntimeError("database exploded at /srv/secret/path.py line 42")

    monkeypatch.setattr(views, "agent_config", explode)
    agent.client.application.testing = False  # let the error handler answer, as in production
    response = agent.config()
    assert response.status_code == 500
    assert response.get_json() == {"error": "Internal server error"}
    assert b"Traceback" not in response.data and b"exploded" not in response.data
