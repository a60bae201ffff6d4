"""A bounded LRU of encoded list pages, so repeated pages cost a dictionary lookup.

Retries after a 429 or a fault, and tests that scan twice, ask for the same pages again;
a fresh scan never does. Caching whole pages makes a repeat free while a miss costs one
dictionary insert per page, where a per-customer cache would cost a hundred (measured:
a per-customer ``lru_cache`` slowed fresh scans by a third). The key carries the
dataset's version, so drift retires every cached page at once; stale entries age out.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from helpcrunch_async.testing._wire import page_body

if TYPE_CHECKING:
    from helpcrunch_async.testing._dataset import Dataset
    from helpcrunch_async.testing._wire import ListQuery

_Key = tuple[int, str | None, bool, int, int, int | None]


class PageCache:
    """Encode list pages of ``dataset``, keeping the ``capacity`` most recent ones."""

    def __init__(self, dataset: Dataset, capacity: int = 128) -> None:
        """Cache at most ``capacity`` pages (about 80 KB each at limit 100)."""
        self.dataset = dataset
        self.capacity = capacity
        self._pages: OrderedDict[_Key, bytes] = OrderedDict()

    def get(self, query: ListQuery, total: int | None = None) -> bytes:
        """Return the ``{"total", "data"}`` body for ``query`` (claiming ``total`` if given)."""
        data = self.dataset
        key = (data.version, query.sort, query.descending, query.offset, query.limit, total)
        body = self._pages.get(key)
        if body is not None:
            self._pages.move_to_end(key)
            return body
        refs = data.refs(query.offset, query.limit, query.sort, descending=query.descending)
        body = page_body(data.total if total is None else total, data.bodies(refs))
        if self.capacity > 0:
            self._pages[key] = body
            if len(self._pages) > self.capacity:
                self._pages.popitem(last=False)
        return body
