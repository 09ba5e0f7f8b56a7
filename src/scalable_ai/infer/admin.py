"""The server's admin routes: loading and unloading LoRA adapters while it serves.

vLLM's routes and bodies (``POST /v1/load_lora_adapter {"lora_name", "lora_path"}``,
``POST /v1/unload_lora_adapter {"lora_name"}``), so its clients work. Loading reads a folder
on the server's own disk, so the routes are off unless the server was given an admin token
(``SAI_SERVE_ADMIN_TOKEN``), and then answer only ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict

from scalable_ai.errors import Forbidden, UserError

if TYPE_CHECKING:
    from scalable_ai.infer.server import OpenAIServer


class LoadLora(BaseModel):
    model_config = ConfigDict(extra="ignore")

    lora_name: str
    lora_path: str
    model: str | None = None  # the base model (default: the only one served)


class UnloadLora(BaseModel):
    model_config = ConfigDict(extra="ignore")

    lora_name: str
    model: str | None = None


def register_admin_routes(app: FastAPI, server: OpenAIServer, token: str | None) -> None:
    def authorize(request: Request) -> None:
        if not token:
            raise Forbidden(
                "admin routes are off: start sai serve with SAI_SERVE_ADMIN_TOKEN set",
                field="authorization",
            )
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise Forbidden("a valid admin bearer token is required", field="authorization")

    def base(model: str | None) -> Any:
        if model is None:
            if len(server.engines) != 1:
                raise UserError("name the base model", field="model")
            return next(iter(server.engines.values()))
        return server.engine_for(model)

    @app.post("/v1/load_lora_adapter")
    async def load_lora(body: LoadLora, request: Request) -> dict[str, str]:
        authorize(request)
        if not body.lora_name or ":" in body.lora_name:
            raise UserError("must be a non-empty name without ':'", field="lora_name")
        engine = base(body.model)
        await asyncio.to_thread(engine.add_lora, body.lora_name, body.lora_path)
        return {"status": "loaded", "model": f"{engine.model_name}:{body.lora_name}"}

    @app.post("/v1/unload_lora_adapter")
    async def unload_lora(body: UnloadLora, request: Request) -> dict[str, str]:
        authorize(request)
        engine = base(body.model)
        await asyncio.to_thread(engine.remove_lora, body.lora_name)
        return {"status": "unloaded", "model": f"{engine.model_name}:{body.lora_name}"}
