"""Catalog-aware completion: database, table and column names from the server's catalog index.

An IPython matcher (Matcher API v2) finds the catalog context at the cursor
(:mod:`~jupyter_mlplat.kernel.completion_context`) and asks :class:`CatalogNames` for names.
That asks the server's ``catalog/completions`` routes with the kernel's token, and keeps the
answers for ``ttl`` seconds; an answer that listed every match for a prefix also answers every
longer prefix (filtered here), and columns are kept per table. So a keypress usually costs a
few dictionary lookups. A request still unanswered after ``timeout`` gives nothing this time
(it finishes in the background and fills the cache for the next Tab): completion never hangs.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from IPython.core.completer import (
    CompletionContext,
    SimpleCompletion,
    SimpleMatcherResult,
    context_matcher,
)

from jupyter_mlplat.config import API_URL_VARIABLE

if TYPE_CHECKING:
    from jupyter_mlplat.kernel.completion_context import CatalogContext

log = logging.getLogger(__name__)

MATCHER_ID = "mlplat.catalog"
TTL_SECONDS = 30.0
TIMEOUT_SECONDS = 0.2
RETRY_AFTER_SECONDS = 5.0  # after a failed request, before asking the server again
LIMIT = 200  # names per request
PRUNE_AT = 256  # cached answers; beyond, the expired ones are dropped

Fetch = Callable[[str], Any]  # a GET of a path under /mlplat/api/, JSON back


class CatalogNames:
    """Database/table names by prefix and columns by table, cached, never slower than
    ``timeout``."""

    def __init__(
        self,
        fetch: Fetch,
        ttl: float = TTL_SECONDS,
        timeout: float = TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.ttl = ttl
        self.timeout = timeout
        self._clock = clock
        self._lock = threading.RLock()  # a done future runs its callback at once, lock held
        # lower-case prefix -> (fetched at, items, every match listed)
        self._names: dict[str, tuple[float, list[dict[str, Any]], bool]] = {}
        # lower-case table -> (fetched at, columns); [] for a table the index does not know
        self._columns: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._pending: dict[str, Future[None]] = {}
        self._retry_at = 0.0
        self._pool: ThreadPoolExecutor | None = None

    def tables(self, prefix: str) -> list[dict[str, Any]]:
        """Databases and tables starting with ``prefix`` (items of the completions route)."""
        key = prefix.lower()
        cached = self._cached_names(key)
        if cached is None:
            self._wait(f"names:{key}", lambda: self._load_names(key))
            cached = self._cached_names(key) or []
        return [item for item in cached if _starts(item, key)]

    def columns(self, tables: tuple[str, ...]) -> list[dict[str, Any]]:
        """The columns of ``tables`` (the first table's first), without repeats."""
        keys = list(dict.fromkeys(t.lower() for t in tables))
        missing = [key for key in keys if self._cached_columns(key) is None]
        if missing:
            self._wait("columns:" + ",".join(missing), lambda: self._load_columns(missing))
        found: dict[str, dict[str, Any]] = {}
        for key in keys:
            for column in self._cached_columns(key) or []:
                found.setdefault(column["name"], column)
        return list(found.values())

    # -- cache --------------------------------------------------------------------------------

    def _fresh(self, fetched_at: float) -> bool:
        return self._clock() - fetched_at < self.ttl

    def _cached_names(self, key: str) -> list[dict[str, Any]] | None:
        """A fresh answer for ``key``, or for a shorter prefix that listed every match."""
        with self._lock:
            for length in range(len(key), -1, -1):
                entry = self._names.get(key[:length])
                if entry and self._fresh(entry[0]) and (length == len(key) or entry[2]):
                    return entry[1]
        return None

    def _cached_columns(self, key: str) -> list[dict[str, Any]] | None:
        with self._lock:
            entry = self._columns.get(key)
        return entry[1] if entry and self._fresh(entry[0]) else None

    def _load_names(self, key: str) -> None:
        reply = self._fetch("catalog/completions?" + urlencode({"prefix": key, "limit": LIMIT}))
        with self._lock:
            if len(self._names) >= PRUNE_AT:
                self._names = {k: v for k, v in self._names.items() if self._fresh(v[0])}
            self._names[key] = (self._clock(), list(reply["items"]), bool(reply["complete"]))

    def _load_columns(self, keys: list[str]) -> None:
        reply = self._fetch("catalog/completions/columns?" + urlencode({"table": keys}, True))
        now = self._clock()
        with self._lock:
            if len(self._columns) >= PRUNE_AT:
                self._columns = {k: v for k, v in self._columns.items() if self._fresh(v[0])}
            for key in keys:
                self._columns[key] = (now, list(reply["tables"].get(key, [])))

    # -- requests -----------------------------------------------------------------------------

    def _wait(self, key: str, load: Callable[[], None]) -> None:
        """Run ``load`` in the background (once per key at a time); wait ``timeout`` for it."""
        with self._lock:
            if self._clock() < self._retry_at:
                return
            future = self._pending.get(key)
            if future is None:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(1, thread_name_prefix="mlplat-completion")
                future = self._pool.submit(self._guarded, load)
                self._pending[key] = future
                future.add_done_callback(lambda _: self._forget(key))
        try:
            future.result(self.timeout)
        except FutureTimeout:
            log.debug("catalog completion: no answer within %.0f ms", self.timeout * 1000)

    def _forget(self, key: str) -> None:
        with self._lock:
            self._pending.pop(key, None)

    def _guarded(self, load: Callable[[], None]) -> None:
        try:
            load()
        except Exception as err:  # the server is down or refuses: complete nothing for a while
            log.debug("catalog completion failed: %s", err)
            with self._lock:
                self._retry_at = self._clock() + RETRY_AFTER_SECONDS


def _starts(item: dict[str, Any], key: str) -> bool:
    """Whether ``item`` answers ``key``, as the server decides (see CatalogIndex.complete)."""
    if item["text"].lower().startswith(key):
        return True
    return "." not in key and item["kind"] == "table" and item["name"].lower().startswith(key)


def completions(names: CatalogNames, context: CatalogContext) -> list[SimpleCompletion]:
    """The completions of ``context``: whole ``db`` / ``db.name`` texts, or qualified columns."""
    if context.kind == "table":
        return [SimpleCompletion(i["text"], type=i["kind"]) for i in names.tables(context.prefix)]
    prefix = context.prefix.lower()
    return [
        SimpleCompletion(context.qualifier + column["name"], type="column")
        for column in names.columns(context.tables)
        if column["name"].lower().startswith(prefix)
    ]


def catalog_matcher(names: CatalogNames) -> Callable[[CompletionContext], SimpleMatcherResult]:
    """The IPython matcher; it suppresses the others (Jedi, paths) when it has names."""

    @context_matcher(identifier=MATCHER_ID, priority=10)
    def matcher(context: CompletionContext) -> SimpleMatcherResult:
        from jupyter_mlplat.kernel.completion_context import catalog_context  # first Tab

        lines = context.full_text.split("\n")
        cursor = sum(len(line) + 1 for line in lines[: context.cursor_line])
        found = catalog_context(context.full_text, cursor + context.cursor_position)
        if found is None:
            return {"completions": [], "suppress": False}
        offered = completions(names, found)
        return {
            "completions": offered,
            "matched_fragment": found.fragment,
            "suppress": bool(offered),
            "ordered": True,
        }

    return matcher


def platform_fetch(url: str | None = None, token: str | None = None) -> Fetch:
    """GETs on the server's API with the kernel's token (or these), over a kept-alive
    connection; the client (``http.client``) is imported on the first lookup."""
    api: list[Any] = []

    def fetch(path: str) -> Any:
        if not api:
            from jupyter_mlplat.kernel.platform_api import PlatformApi

            api.append(PlatformApi(url, token))
        return api[0].get(path, timeout=5)

    return fetch


def register(shell: Any) -> bool:
    """Add the matcher to ``shell``'s completer when the server gave this kernel its API."""
    if not os.environ.get(API_URL_VARIABLE):
        return False
    shell.Completer.custom_matchers.append(catalog_matcher(CatalogNames(platform_fetch())))
    return True
