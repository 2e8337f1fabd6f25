"""``/docs`` and ``/redoc`` render in Chromium with the network off: every file comes from the server itself."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import pytest

from tests.web.conftest import screenshot


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture
def offline(page):
    """The page with every request to anything but loopback refused (and remembered)."""
    refused: list[str] = []

    def gate(route):
        if route.request.url.startswith(("data:", "blob:")) or _loopback(route.request.url):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    page.context.route("**/*", gate)
    return page, refused


def test_swagger_ui_renders_offline_with_the_bearer_scheme(server, offline):
    page, refused = offline
    r = page.goto(f"{server.base}/docs")
    assert r.status == 200 and "default-src 'none'" in r.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "Motionscript" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() >= 30  # every operation listed
    assert page.locator("button.authorize").count() == 1  # the declared bearer scheme
    page.locator("button.authorize").click()
    assert "bearer" in page.inner_text(".modal-ux").lower()
    screenshot(page, "docs-swagger.png")
    assert refused == []


def test_redoc_renders_offline(server, offline, console):
    page, refused = offline
    # ReDoc's bundle links its "API docs by Redocly" logo from its CDN: the page's CSP blocks it before
    # any request is made (so `refused` stays empty); the text link is still shown.
    console.expect("cdn.redoc.ly/redoc/logo-mini.svg")
    r = page.goto(f"{server.base}/redoc")
    assert r.status == 200
    page.wait_for_selector("h1", timeout=30_000)
    assert "Motionscript" in page.inner_text("h1")
    assert page.locator("[role=menuitem], li[data-item-id]").count() >= 20
    screenshot(page, "docs-redoc.png")
    assert refused == []


def test_docs_files_are_served_locally_and_only_those(client):
    assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs/static/redoc.standalone.js").headers["content-type"].startswith("text/javascript")
    r = client.get("/docs/static/..%2Fcore.py")
    assert r.status_code == 404
    html = client.get("/docs").text + client.get("/redoc").text
    assert "cdn" not in html.lower() and "googleapis" not in html and "/docs/static/" in html
