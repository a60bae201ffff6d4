"""The version has one source, pyproject.toml, read through the installed metadata."""

from __future__ import annotations

import importlib.metadata
from typing import TYPE_CHECKING

from aiohttp import web
from wire_servers import serving

import helpcrunch_async as hc
from helpcrunch_async import _version
from helpcrunch_async._export import checkpoint

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

import pytest


def test_every_copy_of_the_version_is_the_metadata() -> None:
    version = importlib.metadata.version("helpcrunch-async")
    assert version == _version.VERSION
    assert hc.__version__ == version
    assert version == checkpoint.TOOL_VERSION


@pytest.fixture
async def agent_seen() -> AsyncIterator[tuple[str, list[str]]]:
    seen: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append(request.headers.get("User-Agent", ""))
        return web.json_response({"total": 0, "data": []})

    async with serving(handle) as url:
        yield url, seen


async def test_the_user_agent_carries_the_version(agent_seen: tuple[str, list[str]]) -> None:
    base_url, seen = agent_seen
    async with hc.HelpCrunch("k", base_url=base_url) as client:
        await client.customers.list()
    assert seen == [f"helpcrunch-async/{_version.VERSION}"]
