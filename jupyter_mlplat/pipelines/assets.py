"""Table-triggered pipelines: a catalog table is an Airflow Asset, a change of it an asset event.

A DAG scheduled on ``table:db.t`` has ``schedule=[table_asset("db.t")]``; when the catalog
index sees ``db.t`` change, the server sends an event for that asset to Airflow and the
scheduler starts the DAG's run.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from jupyter_mlplat.errors import InvalidInput, MLPlatError
from jupyter_mlplat.pipelines.airflow import AirflowClient

if TYPE_CHECKING:
    from airflow.sdk import Asset

log = logging.getLogger(__name__)

SCHEME = "mlplat"
_TABLE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)$")


def parse_table(name: str) -> tuple[str, str]:
    """``("db", "t")`` from ``"db.t"`` (or ``"table:db.t"``); a one-line error otherwise."""
    text = name.removeprefix("table:")
    match = _TABLE.match(text)
    if not match:
        raise InvalidInput(f"not a table name: {name!r} (expected database.table)")
    return match.group(1), match.group(2)


def table_uri(database: str, table: str) -> str:
    """The asset URI of a catalog table (lower case: the catalog's names are case-insensitive)."""
    return f"{SCHEME}://catalog/{database.lower()}/{table.lower()}"


def table_asset(name: str) -> Asset:
    """The Airflow Asset of table ``db.t``: use it as a DAG's ``schedule=[...]``."""
    from airflow.sdk import Asset

    database, table = parse_table(name)
    return Asset(name=f"{database}.{table}".lower(), uri=table_uri(database, table))


def send_table_changed(
    client: AirflowClient, database: str, table: str, extra: dict[str, Any] | None = None
) -> int:
    """Send an asset event for ``database.table`` (if some DAG is scheduled on it); return how
    many events were sent."""
    uri = table_uri(database, table)
    assets = client.get("/api/v2/assets", uri_pattern=uri, limit=100).get("assets", [])
    sent = 0
    for asset in assets:
        if asset.get("uri") != uri:
            continue
        client.post(
            "/api/v2/assets/events",
            {"asset_id": asset["id"], "extra": {"source": "mlplat-catalog", **(extra or {})}},
        )
        sent += 1
    return sent


def on_table_changed(client: AirflowClient) -> Any:
    """An observer for the catalog's "table changed" notices that never raises."""

    def observer(database: str, table: str) -> None:
        try:
            count = send_table_changed(client, database, table)
        except MLPlatError as err:  # Airflow not running: no pipeline can be waiting
            log.info("mlplat: no asset event for %s.%s: %s", database, table, err)
            return
        if count:
            log.info("mlplat: %s.%s changed: asset event sent to Airflow", database, table)

    return observer
