"""The ``departments`` resource: the departments with their agents."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpcrunch_async._core.params import check_limit, check_offset
from helpcrunch_async._models.agents import Department, decode_departments_page
from helpcrunch_async._resources.listing import Resource
from helpcrunch_async._shell.scan import Scan

if TYPE_CHECKING:
    from helpcrunch_async._models.agents import DepartmentsPage

__all__ = ["Departments"]


class Departments(Resource):
    """``client.departments``: ``GET /departments``."""

    async def list(self, *, offset: int = 0, limit: int = 100) -> DepartmentsPage:
        """Return one page of departments; ``total`` is None where the server sends no count."""
        params = {"offset": check_offset(offset), "limit": check_limit(limit)}
        return await self.page("GET", "/departments", params, decode_departments_page)

    def iter_all(
        self, *, page_size: int = 100, start: int = 0, concurrency: int | None = None
    ) -> Scan[Department]:
        """Return a scan of every department, in the server's order, each at most once.

        Where the server sends no count (old pages), it reads on until a short page.
        """
        return self.scan(
            "GET",
            "/departments",
            {},
            decode_departments_page,
            kind=Scan[Department],
            page_size=page_size,
            start=start,
            concurrency=concurrency,
        )
