"""The ``departments`` resource: the departments with their agents."""

from __future__ import annotations

from helpcrunch_async._models.agents import Department, DepartmentsPage
from helpcrunch_async._resources.endpoints import DEPARTMENTS
from helpcrunch_async._resources.listing import Roster

__all__ = ["Departments"]


class Departments(Roster[DepartmentsPage, Department]):
    """``client.departments``: ``GET /departments``; ``list`` one page, ``iter_all`` every one."""

    _endpoint = DEPARTMENTS
