"""A FastAPI app over one HelpCrunch client: fetch and tag a customer; export them all.

Run it::

    HELPCRUNCH_API_KEY=... EXPORT_DIR=./exports uvicorn fastapi_app:app --app-dir examples

The pattern: one `HelpCrunch` client for the whole app, created in the lifespan
(inside the running loop, as aiohttp requires) and closed at shutdown, so every
request shares one connection pool and one rate cap. An export runs as an
asyncio task owned by the app, not by the request that started it; shutdown
cancels it, which stops its requests at once. ``POST /customers/{id}/tags``
writes: it tags the customer through a view of the client made for a web request
(``with_options``: the same pool and cap, no retry, no 429 wait), so a slow or
rate-limited HelpCrunch answers the caller at once (503 with ``Retry-After``)
instead of holding the request.

Configuration comes from the environment: ``HELPCRUNCH_API_KEY`` (required),
``HELPCRUNCH_BASE_URL``, ``HELPCRUNCH_RATE_LIMIT`` and ``HELPCRUNCH_RATE_PERIOD``
(the cap, 120 per 60 s by default), ``EXPORT_DIR`` (default ``./exports``).
With several uvicorn or gunicorn workers, set ``HELPCRUNCH_REDIS_URL`` (and
``HELPCRUNCH_WORKERS``, their number) so that every worker shares one cap through
Redis instead of each sending up to the whole cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from fastapi import Body, FastAPI, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

import helpcrunch_async as hc

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from helpcrunch_async import ScanStats

# Lines handed to the writer thread at once: few thread hops, little memory.
_CHUNK = 1000


@dataclass
class Export:
    """One export's progress, as ``GET /exports/{id}`` reports it."""

    id: str
    path: Path
    state: Literal["running", "complete", "failed", "cancelled"] = "running"
    error: str | None = None
    stats: ScanStats | None = field(default=None, repr=False)

    def report(self) -> dict[str, Any]:
        """Return the JSON the endpoint sends."""
        stats = self.stats
        return {
            "id": self.id,
            "state": self.state,
            "customers": stats.items if stats else 0,
            "total": stats.total_at_end if stats else None,
            "requests": stats.requests if stats else 0,
            "error": self.error,
            "path": str(self.path) if self.state == "complete" else None,
        }


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Create the one client at startup; at shutdown cancel exports and close it."""
    export_dir = Path(os.environ.get("EXPORT_DIR", "exports"))
    await asyncio.to_thread(export_dir.mkdir, parents=True, exist_ok=True)
    rate_limit = int(os.environ.get("HELPCRUNCH_RATE_LIMIT", "120"))
    rate_period = float(os.environ.get("HELPCRUNCH_RATE_PERIOD", "60"))
    budget: hc.RateBudget | None = None
    redis_url = os.environ.get("HELPCRUNCH_REDIS_URL")
    if redis_url:
        # One cap for every worker process: fails at startup if Redis is unreachable.
        budget = await hc.RedisBudget.connect(
            redis_url,
            os.environ.get("HELPCRUNCH_REDIS_KEY", "helpcrunch"),
            limit=rate_limit,
            period=rate_period,
            fallback_workers=int(os.environ.get("HELPCRUNCH_WORKERS", "4")),
        )
    # The key and the base URL come from HELPCRUNCH_API_KEY and HELPCRUNCH_BASE_URL.
    client = hc.HelpCrunch(
        rate_limit=rate_limit,
        rate_period=rate_period,
        rate_budget=budget,
    )
    tasks: set[asyncio.Task[None]] = set()
    app.state.client = client
    # For writes on behalf of a caller who waits: fail fast, on the same pool and cap.
    app.state.fast = client.with_options(max_retries=0, timeout=5.0, max_rate_limit_wait=0)
    app.state.export_dir = export_dir
    app.state.exports = {}
    app.state.tasks = tasks
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.close()
        if isinstance(budget, hc.RedisBudget):
            await budget.aclose()


app = FastAPI(title="HelpCrunch export service", lifespan=lifespan)


@app.get("/customers/{customer_id}")
async def get_customer(request: Request, customer_id: Annotated[int, PathParam(ge=1)]) -> Response:
    """Return one customer as the API's JSON; 404 if there is none."""
    client: hc.HelpCrunch = request.app.state.client
    try:
        customer = await client.customers.get(customer_id)
    except hc.NotFoundError:
        raise HTTPException(404, f"no customer {customer_id}") from None
    except hc.HelpCrunchError as exc:
        raise HTTPException(502, f"HelpCrunch: {exc}") from None
    return Response(msgspec.json.encode(customer), media_type="application/json")


@app.post("/customers/{customer_id}/tags")
async def tag_customer(
    request: Request,
    customer_id: Annotated[int, PathParam(ge=1)],
    tags: Annotated[list[str], Body(embed=True, min_length=1, max_length=20)],
) -> Response:
    """Add ``{"tags": [...]}`` to a customer (unknown tags are created); return the customer."""
    client: hc.HelpCrunch = request.app.state.fast
    try:
        customer = await client.customers.tag(customer_id, tags)
    except hc.InvalidParameterError as exc:  # an empty tag name: refused before any request
        raise HTTPException(422, str(exc)) from None
    except hc.NotFoundError:
        raise HTTPException(404, f"no customer {customer_id}") from None
    except hc.RateLimitError as exc:
        wait = {} if exc.retry_after is None else {"Retry-After": str(math.ceil(exc.retry_after))}
        raise HTTPException(503, "HelpCrunch is rate limiting: try again", wait) from None
    except hc.HelpCrunchError as exc:
        raise HTTPException(502, f"HelpCrunch: {exc}") from None
    return Response(msgspec.json.encode(customer), media_type="application/json")


@app.post("/exports", status_code=202)
async def start_export(request: Request) -> dict[str, Any]:
    """Start exporting every customer to a JSONL file; return the export's id."""
    state = request.app.state
    export = Export(id=uuid.uuid4().hex, path=state.export_dir / "placeholder")
    export.path = state.export_dir / f"customers-{export.id}.jsonl"
    state.exports[export.id] = export
    task = asyncio.create_task(_run(state.client, export))
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)
    return {"id": export.id, "progress": f"/exports/{export.id}"}


@app.get("/exports/{export_id}")
async def export_progress(request: Request, export_id: str) -> dict[str, Any]:
    """Report an export: state, customers done, total, error."""
    export: Export | None = request.app.state.exports.get(export_id)
    if export is None:
        raise HTTPException(404, f"no export {export_id}")
    return export.report()


async def _run(client: hc.HelpCrunch, export: Export) -> None:
    # Written to a .part file and renamed when complete: a reader never sees half
    # an export under the final name. File writes go to a thread in chunks, so a
    # slow disk never stalls the app's other requests.
    part = export.path.with_name(export.path.name + ".part")
    encode = msgspec.json.Encoder().encode
    try:
        file = await asyncio.to_thread(part.open, "wb")
        try:
            async with client.customers.iter_all(sort="customers.firstSeen") as scan:
                export.stats = scan.stats
                lines: list[bytes] = []
                async for customer in scan:
                    lines.append(encode(customer) + b"\n")
                    if len(lines) >= _CHUNK:
                        await asyncio.to_thread(file.writelines, lines)
                        lines = []
                await asyncio.to_thread(file.writelines, lines)
        finally:
            await asyncio.to_thread(file.close)
        await asyncio.to_thread(part.replace, export.path)
        export.state = "complete"
    except asyncio.CancelledError:
        export.state = "cancelled"
        raise
    except (hc.HelpCrunchError, OSError) as exc:
        export.state = "failed"
        export.error = str(exc)
