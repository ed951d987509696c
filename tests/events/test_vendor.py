"""The vendored front-end files are the pinned releases recorded in static/vendor/VERSIONS."""
from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

VENDOR = Path(__file__).resolve().parents[2] / "static" / "vendor"


def pinned() -> list[tuple[str, str, str]]:
    """Return (file, package@version, sha384-...) for every line of VERSIONS."""
    rows = []
    for line in (VENDOR / "VERSIONS").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, package, _path, digest = line.split()
            rows.append((name, package, digest))
    return rows


@pytest.mark.parametrize("name, package, digest", pinned())
def test_each_vendored_file_matches_its_recorded_hash(name, package, digest):
    data = (VENDOR / name).read_bytes()
    assert "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode() == digest


def test_htmx_is_the_2_0_line_that_the_sse_extension_supports():
    packages = dict(p.split("@") for _, p, _ in pinned())
    assert packages["htmx.org"].startswith("2.0.") and packages["htmx-ext-sse"].startswith("2.")
    htmx = next(name for name, p, _ in pinned() if p.startswith("htmx.org@"))
    assert f'version:"{packages["htmx.org"]}"' in (VENDOR / htmx).read_text()


def test_pages_load_the_vendored_scripts_from_this_server(client):
    page = client.get("/login").get_data(as_text=True)
    for name, _, _ in pinned():
        if name.startswith("uplot-"):
            continue  # only pages with charts load it (tests/samples/test_chart_pages.py)
        assert f'src="/static/vendor/{name}"' in page
        assert client.get(f"/static/vendor/{name}").status_code == 200
    assert 'src="/static/js/live.js"' in page
    assert "sse-connect" not in page  # only pages that ask for live updates open a stream
