"""A spooling receiver process for the SIGKILL test: uvicorn serving `webhooks.asgi_app`.

Arguments: port, spool file, output file. The handler is slow on purpose and
appends each event id it handled to the output file (flushed and fsynced), so
the test sees exactly what was handled before the kill.
"""

from __future__ import annotations

import asyncio
import os
import sys

import uvicorn

from helpcrunch_async import webhooks


def main() -> None:
    port, spool, output = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    fd = os.open(output, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    async def handle(event: webhooks.Event) -> None:
        await asyncio.sleep(0.03)
        os.write(fd, f"{event.id}\n".encode())
        os.fsync(fd)

    app = webhooks.asgi_app(
        handle,
        secret=os.environ["WEBHOOK_SECRET"],
        spool=spool,
        tolerance=None,
        retry_base=0.05,
        retry_cap=0.2,
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
