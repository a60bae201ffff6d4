"""The answers of the emulated API's reads: lists, searches, single records.

Each turns one request (its query or JSON body) into an ``Answer`` over the account,
through the hostile-page faults (``Faults.window``, ``tie_window``, ``reported_total``
and the tie dice) and the wire variants; the pipeline in ``_server`` decides before
whether the request gets here at all.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import msgspec

from helpcrunch_async.testing._chat_generation import CHAT_SORT_FIELDS
from helpcrunch_async.testing._chat_search import search_chats
from helpcrunch_async.testing._customer_search import search_customers
from helpcrunch_async.testing._search import (
    CHAT_FIELDS,
    CHAT_SORTS,
    CUSTOMER_FIELDS,
    CUSTOMER_SORTS,
    SearchQuery,
    parse_search,
)
from helpcrunch_async.testing._wire import (
    ListQuery,
    field_errors_body,
    list_body,
    page_body,
    parse_list_query,
    status_body,
    validation_body,
)

if TYPE_CHECKING:
    from aiohttp import web

    from helpcrunch_async.testing._chats import ChatData
    from helpcrunch_async.testing._dataset import Dataset
    from helpcrunch_async.testing._faults import FaultDice, Faults
    from helpcrunch_async.testing._pages import PageCache
    from helpcrunch_async.testing._team import Team
    from helpcrunch_async.testing._wire import WireVariants

BAD_REQUEST = 400
NOT_FOUND = 404


@dataclasses.dataclass(slots=True)
class Answer:
    status: int
    body: bytes
    # The Retry-After header's text.
    retry_after: str | None = None
    # A write that changed the account (the after-the-write faults strike only these).
    applied: bool = False


class ReadAnswers:
    """The read endpoints' answers (a base of ``Emulator``)."""

    dataset: Dataset
    chats: ChatData
    team: Team
    faults: Faults
    variants: WireVariants
    _pages: PageCache
    _dice: FaultDice
    _last_order: tuple[str | None, bool]

    def _unknown_answer(self, _: web.Request, __: bytes) -> Answer:
        return Answer(NOT_FOUND, status_body(NOT_FOUND, self.variants.error_style))

    def _bad_query(self, problems: list[str]) -> Answer:
        return Answer(BAD_REQUEST, validation_body(problems, self.variants.error_style))

    def _customers_answer(self, request: web.Request, _: bytes) -> Answer:
        parsed = parse_list_query(request.query)
        if not isinstance(parsed, ListQuery):
            return self._bad_query(parsed)
        self._last_order = (parsed.sort, parsed.descending)
        faults = self.faults
        served = dataclasses.replace(parsed, limit=faults.window(parsed.offset, parsed.limit))
        claimed = None if faults.fake_total is None else faults.fake_total
        if faults.tie_block is None:
            return Answer(200, self._pages.get(served, claimed))
        data = self.dataset
        start, count = faults.tie_window(served.offset, served.limit)
        rows = data.refs(start, count, served.sort, descending=served.descending)
        refs = self._dice.tied(faults, rows, start, served.offset, served.limit)
        return Answer(200, page_body(faults.reported_total(data.total), data.bodies(refs)))

    def _customer_answer(self, request: web.Request, _: bytes) -> Answer:
        text = request.match_info["id"]
        body = None
        if text.isascii() and text.isdigit():
            body = self.dataset.customer_json(int(text))
        if body is None:
            return Answer(NOT_FOUND, status_body(NOT_FOUND, self.variants.error_style))
        return Answer(200, body)

    def _search_query(
        self, raw: bytes, fields: dict[str, Any], sorts: tuple[str, ...]
    ) -> SearchQuery | Answer:
        try:
            body = msgspec.json.decode(raw) if raw else {}
        except msgspec.DecodeError:
            body = None
        parsed = parse_search(body, fields, sorts)
        if isinstance(parsed, SearchQuery):
            return parsed
        return Answer(BAD_REQUEST, field_errors_body(parsed, self.variants.error_style))

    def _customers_search_answer(self, _: web.Request, raw: bytes) -> Answer:
        query = self._search_query(raw, CUSTOMER_FIELDS, CUSTOMER_SORTS)
        if isinstance(query, Answer):
            return query
        faults = self.faults
        limit = faults.window(query.offset, query.limit)
        start, count = faults.tie_window(query.offset, limit)
        window = dataclasses.replace(query, offset=start, limit=count)
        total, rows = search_customers(self.dataset, window)
        refs = self._dice.tied(faults, rows[:count], start, query.offset, limit)
        body = list_body(
            self.dataset.bodies(refs),
            self.faults.reported_total(total),
            self.variants.customers_search_total,
        )
        return Answer(200, body)

    def _chats_answer(self, request: web.Request, _: bytes) -> Answer:
        parsed = parse_list_query(request.query, CHAT_SORT_FIELDS)
        if not isinstance(parsed, ListQuery):
            return self._bad_query(parsed)
        chats = self.chats
        faults = self.faults
        limit = faults.window(parsed.offset, parsed.limit)
        start, count = faults.tie_window(parsed.offset, limit)
        rows = chats.page(parsed.sort, start, count, descending=parsed.descending)
        indices = self._dice.tied(faults, rows, start, parsed.offset, limit)
        body = list_body(
            [chats.chat_json(i) for i in indices],
            self.faults.reported_total(chats.total),
            "meta",
        )
        return Answer(200, body)

    def _chats_search_answer(self, _: web.Request, raw: bytes) -> Answer:
        query = self._search_query(raw, CHAT_FIELDS, CHAT_SORTS)
        if isinstance(query, Answer):
            return query
        faults = self.faults
        limit = faults.window(query.offset, query.limit)
        start, count = faults.tie_window(query.offset, limit)
        window = dataclasses.replace(query, offset=start, limit=count)
        total, rows = search_chats(self.chats, window)
        indices = self._dice.tied(faults, rows[:count], start, query.offset, limit)
        body = list_body(
            [self.chats.chat_json(i) for i in indices],
            self.faults.reported_total(total),
            self.variants.chats_search_total,
        )
        return Answer(200, body)

    def _chat_index_of(self, request: web.Request) -> int | None:
        text = request.match_info["id"]
        if not (text.isascii() and text.isdigit()):
            return None
        return self.chats.find(int(text))

    def _chat_missing(self) -> Answer:
        return Answer(NOT_FOUND, status_body(NOT_FOUND, self.variants.error_style, chat=True))

    def _chat_answer(self, request: web.Request, _: bytes) -> Answer:
        index = self._chat_index_of(request)
        if index is None:
            return self._chat_missing()
        return Answer(200, self.chats.chat_json(index))

    def _messages_answer(self, request: web.Request, _: bytes) -> Answer:
        parsed = parse_list_query(request.query, None)
        if not isinstance(parsed, ListQuery):
            return self._bad_query(parsed)
        index = self._chat_index_of(request)
        if index is None:
            return self._chat_missing()
        limit = self.faults.window(parsed.offset, parsed.limit)
        oldest = self.variants.messages_order == "oldest"
        total, bodies = self.chats.messages_json(index, parsed.offset, limit, oldest_first=oldest)
        if parsed.offset == 0 and int(request.match_info["id"]) in self.faults.vanishing_chats:
            self.chats.delete([index])
        body = list_body(
            bodies, self.faults.reported_total(total), "total", self.variants.messages_key
        )
        return Answer(200, body)

    def _team_answer(self, request: web.Request, items: tuple[bytes, ...]) -> Answer:
        parsed = parse_list_query(request.query, None)
        if not isinstance(parsed, ListQuery):
            return self._bad_query(parsed)
        limit = self.faults.window(parsed.offset, parsed.limit)
        page = list(items[parsed.offset : parsed.offset + limit])
        return Answer(
            200, list_body(page, self.faults.reported_total(len(items)), self.variants.list_total)
        )

    def _agents_answer(self, request: web.Request, _: bytes) -> Answer:
        return self._team_answer(request, self.team.agent_json)

    def _departments_answer(self, request: web.Request, _: bytes) -> Answer:
        return self._team_answer(request, self.team.department_json)
