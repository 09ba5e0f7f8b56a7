"""The API's Swagger page from the Swagger UI files the ``fastapi-offline`` package ships.

FastAPI's own page loads Swagger UI from a CDN with an inline script: offline (a lab room, a
laptop on a plane, the tests) ``/api/docs`` was blank (issue 13), and the inline script needs
an exception in the Content-Security-Policy. Here the page, the bundle and the small start
script (``web/static/swagger-init.js``) all come from this server. Only the package's static
files are used (its Swagger UI is 5.x, which reads FastAPI's OpenAPI 3.1; the
``swagger-ui-bundle`` package ships 4.15, which refuses it).
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} · API</title>
  <link rel="stylesheet" href="{root}{assets}/swagger-ui.css">
</head>
<body>
  <main id="swagger-ui" data-openapi="{root}{openapi}" aria-label="API documentation"></main>
  <script src="{root}{assets}/swagger-ui-bundle.js"></script>
  <script src="/static/swagger-init.js"></script>
</body>
</html>
"""


def serve_docs(api: FastAPI, path: str = "/docs") -> None:
    """Serve ``path`` (``/api/docs`` once mounted) and the Swagger UI assets beside it."""
    assets = files("fastapi_offline") / "static"
    api.mount(ASSETS, StaticFiles(directory=str(assets)), name="swagger-ui")

    @api.get(path, include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return HTMLResponse(
            PAGE.format(title=api.title, root=root, assets=ASSETS, openapi=api.openapi_url)
        )
