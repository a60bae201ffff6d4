"""The ``/_emulator/*`` routes: control and inspection for tests in other processes.

No key, no rate limit, no log entry:

- ``GET /_emulator/log``: the request log, a JSON list of ``LogEntry`` objects;
- ``POST /_emulator/reset-log``: forget it;
- ``GET /_emulator/stats``: counters (requests, statuses, total, policy);
- ``POST /_emulator/configure``: a JSON object of ``Emulator.configure`` settings
  (``fail`` keys may be strings); answers the stats, or 400 with the reason;
- ``POST /_emulator/drift``: ``{"insert": n, "delete": n, "position": "start",
  "visits": n, "add_chats": n, "add_messages": n, "close_chats": n,
  "reassign_chats": n}`` (each optional, as ``Drift``); answers
  ``{"inserted": [ids], "deleted": [ids], "total": n, "chats": n}``;
- ``POST /_emulator/trigger``: ``{"event": "chat.new", "customer": id, "chat": id,
  "message": id, "fields": {...}}`` (all but ``event`` optional, as
  ``Emulator.trigger``); answers ``{"id": event id or null}``, or 400 with the reason;
- ``GET /_emulator/webhooks``: every webhook delivery attempt, a JSON list of
  ``DeliveryRecord`` objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from helpcrunch_async.testing._faults import Drift

if TYPE_CHECKING:
    from helpcrunch_async.testing._server import Emulator

_JSON = "application/json"
_CHAT_DRIFT = ("visits", "add_chats", "add_messages", "close_chats", "reassign_chats")


def admin_routes(emulator: Emulator) -> list[web.RouteDef]:
    """Return the admin routes bound to ``emulator``."""

    async def log(_: web.Request) -> web.Response:
        return _json(emulator.log)

    async def reset_log(_: web.Request) -> web.Response:
        emulator.reset_log()
        return _json({})

    async def stats(_: web.Request) -> web.Response:
        return _json(emulator.stats())

    async def configure(request: web.Request) -> web.Response:
        try:
            changes = await _body(request)
            if "fail" in changes:
                changes["fail"] = {int(k): v for k, v in changes["fail"].items()}
            emulator.configure(**changes)
        except (msgspec.DecodeError, AttributeError, TypeError, ValueError) as error:
            return web.Response(status=400, text=str(error))
        return _json(emulator.stats())

    async def drift(request: web.Request) -> web.Response:
        try:
            spec = await _body(request)
            position = str(spec.get("position", "start"))
            deleted = emulator.delete(int(spec.get("delete", 0)), position)
            inserted = emulator.insert(int(spec.get("insert", 0)), position)
            counts = [int(spec.get(name, 0)) for name in _CHAT_DRIFT]
            if any(counts):
                visits, add_chats, add_messages, close_chats, reassign_chats = counts
                emulator.apply(
                    Drift(
                        after_request=1,
                        visits=visits,
                        add_chats=add_chats,
                        add_messages=add_messages,
                        close_chats=close_chats,
                        reassign_chats=reassign_chats,
                    )
                )
        except (msgspec.DecodeError, TypeError, ValueError) as error:
            return web.Response(status=400, text=str(error))
        return _json(
            {
                "inserted": inserted,
                "deleted": deleted,
                "total": emulator.total,
                "chats": emulator.chats_total,
            }
        )

    return [
        *_webhook_routes(emulator),
        web.get("/_emulator/log", log),
        web.post("/_emulator/reset-log", reset_log),
        web.get("/_emulator/stats", stats),
        web.post("/_emulator/configure", configure),
        web.post("/_emulator/drift", drift),
    ]


def _webhook_routes(emulator: Emulator) -> list[web.RouteDef]:
    async def trigger(request: web.Request) -> web.Response:
        try:
            spec = await _body(request)
            records = {name: spec.get(name) for name in ("customer", "chat", "message", "fields")}
            event_id = emulator.trigger(str(spec.get("event")), **records)
        except (msgspec.DecodeError, KeyError, TypeError, ValueError) as error:
            return web.Response(status=400, text=str(error))
        return _json({"id": event_id})

    async def deliveries(_: web.Request) -> web.Response:
        return _json(emulator.deliveries)

    return [web.post("/_emulator/trigger", trigger), web.get("/_emulator/webhooks", deliveries)]


async def _body(request: web.Request) -> dict[str, Any]:
    return msgspec.json.decode(await request.read(), type=dict[str, Any])


def _json(value: Any) -> web.Response:
    return web.Response(body=msgspec.json.encode(value), content_type=_JSON)
