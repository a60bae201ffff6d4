"""The ``departments`` resource: the departments with their agents."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpcrunch_async._core.params import check_limit, check_offset
from helpcrunch_async._models.agents import decode_departments_page
from helpcrunch_async._resources.listing import Resource

if TYPE_CHECKING:
    from helpcrunch_async._models.agents import DepartmentsPage

__all__ = ["Departments"]


class Departments(Resource):
    """``client.departments``: ``GET /departments``."""

    async def list(self, *, offset: int = 0, limit: int = 100) -> DepartmentsPage:
        """Return one page of departments; ``total`` is None where the server sends no count."""
        params = {"offset": check_offset(offset), "limit": check_limit(limit)}
        return await self.page("GET", "/departments", params, decode_departments_page)
