"""``/api/docs`` offline (issue 13: it was blank without internet because Swagger UI came from
a CDN). The page, the bundle and its start script come from this server."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect


def test_the_api_docs_page_uses_no_cdn(demo_platform):
    page = demo_platform.client.get("/api/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text and "/api/docs-assets/swagger-ui-bundle.js" in page.text
    bundle = demo_platform.client.get("/api/docs-assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 100_000
    assert "https://" not in page.headers["content-security-policy"]


@pytest.mark.browser
def test_the_api_docs_render_with_nothing_reachable_but_this_server(live_demo, browser):
    context = browser.new_context()
    leaving = []

    def only_this_server(route):
        if route.request.url.startswith(live_demo.url):
            route.continue_()
        else:
            leaving.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_server)
    try:
        page = context.new_page()
        page.goto(f"{live_demo.url}/api/docs")
        expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
        assert page.locator(".opblock").count() > 20
        assert leaving == []
    finally:
        context.close()
