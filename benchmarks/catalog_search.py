"""Catalog search latency against catalog size: does search stay fast from 1k to 1M tables?

Builds synthetic catalogs (seeded, so every run builds the same ones) into a temporary SQLite
file with ``CatalogIndex.replace_database``, one database at a time, as a refresh would: names
like ``sales_eu.fct_customer_orders_daily_v2``, comments, and 5-20 columns for every fourth table
(the ones a describe has filled in). After one warm-up pass over every distinct query of a fixed
mix (exact name, prefix, substring, comment word, column name, typo, 2 characters, ``db.table``,
no hit), times ``--queries`` of them in a seeded order (``limit=50``), ``--rounds`` times.

Prints per size the index build time (spent in ``replace_database``), the file size, and p50 /
p95 / p99 in ms, overall and per kind, of the round with the median p95 (the machine may be
shared); then the growth ratio p95(largest) / p95(smallest). Goals: p95 <= 50 ms at 1M tables,
growth 1k -> 1M <= 3x. Timings are reported, never asserted. Index files are deleted afterwards.

    .venv/bin/python benchmarks/catalog_search.py [--sizes 1000,100000,1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from jupyter_mlplat.catalog.index import CatalogIndex, Column, TableEntry

TABLES_PER_DATABASE = 2000
DESCRIBED_EVERY = 4  # one table in four has its columns indexed
SEED = 20240601

DOMAINS = [
    "sales", "marketing", "finance", "hr", "ops", "product", "growth", "risk", "supply_chain",
    "support", "logistics", "billing", "analytics", "ml_features", "crm", "erp", "iot", "web",
]  # fmt: skip
REGIONS = ["", "_eu", "_us", "_apac", "_latam"]
LAYERS = ["", "fct_", "dim_", "stg_", "raw_", "agg_", "int_", "tmp_"]
ENTITIES = [
    "customers", "orders", "payments", "invoices", "sessions", "events", "clicks", "impressions",
    "products", "inventory", "shipments", "refunds", "subscriptions", "accounts", "users",
    "devices", "campaigns", "leads", "tickets", "employees", "stores", "prices", "promotions",
    "reviews", "carts", "warehouses", "suppliers", "contracts", "transactions", "ledger",
    "forecasts", "churn_scores",
]  # fmt: skip
GRAINS = ["", "_daily", "_hourly", "_weekly", "_monthly", "_snapshot", "_history", "_latest"]
VERSIONS = ["", "", "", "_v2", "_v3", "_old", "_backup"]
SOURCES = ["Kafka", "Salesforce", "SAP", "Postgres CDC", "S3 drops", "the web tracker"]
COMMENTS = [
    "",
    "",
    "{Entity} facts for {domain} reporting",
    "Raw {entity} feed from {source}",
    "Deprecated: use {other} instead",
    "Revenue attribution by {entity} and region",
    "One row per {entity}, refreshed nightly by Airflow",
    "PII: contains {entity} contact details",
]
COLUMN_NAMES = [
    "id", "created_at", "updated_at", "event_ts", "ingested_at", "status", "amount", "currency",
    "currency_code", "country_code", "region", "channel", "source_system", "is_deleted", "ds",
    "quantity", "unit_price", "discount", "tax", "email", "phone", "city", "postal_code",
    "score", "label", "version", "batch_id", "partition_date", "tenant_id", "utm_campaign",
]  # fmt: skip
COLUMN_TYPES = ["bigint", "string", "double", "timestamp", "date", "decimal(18,2)", "boolean"]

# Present at every size, so every size answers the same questions.
KNOWN_TABLES = [
    TableEntry("sales", "customer_orders_daily", comment="Orders per customer and day"),
    TableEntry("sales", "fct_payments_v3", comment="Card and wallet payments"),
    TableEntry("sales", "dim_products", comment="Product master data"),
]
QUERIES = {
    "exact": ["customer_orders_daily", "fct_payments_v3", "dim_products"],
    "prefix": ["cust", "fct_pay", "stg_sess"],
    "substring": ["orders_dai", "payment", "inventory_snap"],
    "comment": ["deprecated", "revenue attribution", "nightly"],
    "column": ["currency_code", "utm_campaign", "postal_code"],
    "fuzzy": ["custmer", "paymnts", "invnetory", "shipmnet"],
    "2-char": ["cu", "fc", "or"],
    "db.table": ["sales.cust", "marketing_eu.fct_"],
    "no hit": ["qwertyuiop", "nonexistent_table", "xylophone"],
}


def database_names() -> Iterator[str]:
    """``sales``, ``sales_eu``, ..., ``raw_events_2019``, ..., then numbered team copies."""
    yield from (f"{domain}{region}" for region in REGIONS for domain in DOMAINS)
    yield from (f"raw_events_{year}" for year in range(2015, 2026))
    for team in range(1, 10**6):
        yield from (f"{domain}_team{team}" for domain in DOMAINS)


def synthetic_tables(database: str, count: int, rng: random.Random) -> list[TableEntry]:
    """``count`` distinct, plausible tables of ``database``."""
    domain = database.split("_team", maxsplit=1)[0]
    tables: dict[str, TableEntry] = {}
    if database == "sales":
        tables = {t.name: t for t in KNOWN_TABLES}
    while len(tables) < count:
        entities = rng.choice(ENTITIES)
        entity = entities.removesuffix("s")  # for comments and column names
        second = f"_{rng.choice(ENTITIES)}" if rng.random() < 0.4 else ""
        name = f"{rng.choice(LAYERS)}{entities}{second}{rng.choice(GRAINS)}{rng.choice(VERSIONS)}"
        if name in tables or rng.random() < 0.5:
            name += "_" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=4))
        if name in tables:
            continue
        comment = rng.choice(COMMENTS).format(
            entity=entity,
            Entity=entity.capitalize(),
            domain=domain,
            source=rng.choice(SOURCES),
            other=f"{rng.choice(LAYERS)}{rng.choice(ENTITIES)}",
        )
        columns: tuple[Column, ...] = ()
        if len(tables) % DESCRIBED_EVERY == 0:
            picked = rng.sample(COLUMN_NAMES, rng.randint(3, 18))
            columns = tuple(
                Column(n, rng.choice(COLUMN_TYPES)) for n in [f"{entity}_id", f"{entity}_name"]
            ) + tuple(Column(n, rng.choice(COLUMN_TYPES)) for n in picked)
        tables[name] = TableEntry(
            database,
            name,
            comment=comment,
            type=rng.choice(["MANAGED", "MANAGED", "EXTERNAL", "VIEW"]),
            columns=columns,
            format=rng.choice(["delta", "parquet", "iceberg"]) if columns else "",
        )
    return list(tables.values())[:count]


def build(index: CatalogIndex, size: int) -> float:
    """Fill ``index`` with ``size`` tables, one ``replace_database`` per database.

    Returns the seconds spent in ``replace_database`` (generating the tables is not counted).
    """
    per_database = min(TABLES_PER_DATABASE, max(1, size // 5))
    remaining, writing = size, 0.0
    for database in database_names():
        if remaining <= 0:
            break
        count = min(per_database, remaining)
        tables = synthetic_tables(database, count, random.Random(f"{SEED}:{database}"))
        started = time.perf_counter()
        index.replace_database(database, tables, comment=database)
        writing += time.perf_counter() - started
        remaining -= count
    return writing


def percentile(samples: list[float], q: int) -> float:
    """The ``q``-th percentile (1-99)."""
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def measure(index: CatalogIndex, queries: int) -> dict[str, list[float]]:
    """Milliseconds per query, by kind, for ``queries`` queries of the mix in a seeded order."""
    mix = [(kind, query) for kind, texts in QUERIES.items() for query in texts]
    timings: dict[str, list[float]] = {kind: [] for kind in QUERIES}
    for kind, query in random.Random(SEED).choices(mix, k=queries):
        started = time.perf_counter()
        index.search(query)
        timings[kind].append((time.perf_counter() - started) * 1000)
    return timings


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50": statistics.median(samples),
        "p95": percentile(samples, 95),
        "p99": percentile(samples, 99),
    }


def run_size(size: int, queries: int, rounds: int, directory: Path) -> dict[str, float]:
    """Build a catalog of ``size`` tables, time the query mix ``rounds`` times, print, delete."""
    path = directory / f"catalog-{size}.sqlite"
    index = CatalogIndex(path)
    try:
        build_seconds = build(index, size)
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        megabytes = path.stat().st_size / 10**6
        hits = {q: len(index.search(q)) for texts in QUERIES.values() for q in texts}  # warm-up
        passes = [measure(index, queries) for _ in range(rounds)]
    finally:
        index.close()
        for file in directory.glob(f"{path.name}*"):
            file.unlink()
    overall = [summary([ms for samples in p.values() for ms in samples]) for p in passes]
    by_p95 = sorted(range(rounds), key=lambda i: overall[i]["p95"])
    median_pass = passes[by_p95[rounds // 2]]
    print(
        f"\n{size:>9,} tables: index build {build_seconds:.1f} s, {megabytes:.0f} MB on disk, "
        f"load average {os.getloadavg()[0]:.1f}; hits (limit 50) {hit_note(hits)}"
    )
    rounds_p95 = ", ".join(f"{o['p95']:.2f}" for o in overall)
    print(f"  p95 per round: {rounds_p95} ms; the median round:")
    print(f"  {'kind':<10} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    every = [ms for samples in median_pass.values() for ms in samples]
    for kind, samples in [*median_pass.items(), ("ALL", every)]:
        if samples:
            stats = summary(samples)
            print(
                f"  {kind:<10} {len(samples):>4} {stats['p50']:>8.2f} {stats['p95']:>8.2f} "
                f"{stats['p99']:>8.2f}"
            )
    return {**summary(every), "build": build_seconds, "megabytes": megabytes}


def hit_note(hits: dict[str, int]) -> str:
    """A sanity line: how many hits some queries found."""
    return ", ".join(f"{q!r}: {hits[q]}" for q in ["custmer", "cu", "nightly", "xylophone"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        default="1000,100000,1000000",
        help="comma-separated table counts (default: 1000,100000,1000000)",
    )
    parser.add_argument("--queries", type=int, default=200, help="timed queries per round")
    parser.add_argument(
        "--rounds", type=int, default=3, help="timed rounds per size; the median one is shown"
    )
    parser.add_argument("--dir", default=None, help="where the temporary index files go")
    args = parser.parse_args()
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    print(
        f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, "
        f"{args.rounds} x {args.queries} queries per size, load average {os.getloadavg()[0]:.1f}"
    )
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="catalog-bench-", dir=args.dir) as directory:
        for size in sizes:
            results[size] = run_size(size, args.queries, args.rounds, Path(directory))
    print(f"\n{'tables':>9} {'build s':>8} {'MB':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for size, r in results.items():
        print(
            f"{size:>9,} {r['build']:>8.1f} {r['megabytes']:>6.0f} {r['p50']:>8.2f} "
            f"{r['p95']:>8.2f} {r['p99']:>8.2f}"
        )
    smallest, largest = sizes[0], sizes[-1]
    print(f"\np95 at {largest:,}: {results[largest]['p95']:.2f} ms (goal <= 50 ms at 1,000,000)")
    if largest != smallest:
        growth = results[largest]["p95"] / results[smallest]["p95"]
        print(
            f"growth p95({largest:,}) / p95({smallest:,}) = {growth:.2f}x "
            "(goal <= 3x from 1,000 to 1,000,000)"
        )


if __name__ == "__main__":
    main()
