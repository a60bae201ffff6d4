"""One HelpCrunch client for a whole FastAPI app: opened in the lifespan, closed at shutdown.

Run it (the key from HELPCRUNCH_API_KEY, the base URL from HELPCRUNCH_BASE_URL if set)::

    uvicorn fastapi_lifespan:app --app-dir examples
"""

import contextlib
from collections.abc import AsyncIterator

import msgspec
from fastapi import FastAPI, HTTPException, Request, Response

import helpcrunch_async as hc


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Create the client inside the running loop (aiohttp needs one); close it at shutdown."""
    async with hc.HelpCrunch() as client:
        app.state.client = client
        yield


app = FastAPI(lifespan=lifespan)


@app.get("/customers/{customer_id}")
async def get_customer(request: Request, customer_id: int) -> Response:
    """Return one customer as the API's JSON; 404 when HelpCrunch has no such customer."""
    client: hc.HelpCrunch = request.app.state.client
    try:
        customer = await client.customers.get(customer_id)
    except hc.NotFoundError:
        raise HTTPException(404) from None
    return Response(msgspec.json.encode(customer), media_type="application/json")
