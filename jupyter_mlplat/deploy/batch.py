"""Batch predictions: score a catalog table on Spark with a registered model, write a new table.

The model runs inside Spark's Python workers as an iterator ``pandas_udf``
(:mod:`~jupyter_mlplat.deploy.batch_worker`): each worker loads it once and keeps it for its
later batches and tasks, the files are downloaded once per machine through the tracking server,
nothing recreates the training environment (the workers run the platform's Python, which has
the model's libraries), and Arrow batches are larger than Spark's default for the job (fewer
``predict`` calls). Only the model's input columns go to Python and only the predictions come
back. A model whose output is not one column of a plain type is scored by MLflow's own
``spark_udf`` instead. The reference is resolved once, so one job scores with one version even
if the alias moves meanwhile.

The output is written to a staging table first and renamed into place when complete: a failed
job never leaves a half-written output, and ``mode="overwrite"`` only replaces the old table
once the new one is whole.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal

from jupyter_mlplat.catalog.service import identifier
from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.deploy.backends import Progress, no_progress
from jupyter_mlplat.errors import Conflict, InvalidInput, MLPlatError, NotFound, Unavailable

WriteMode = Literal["error", "overwrite"]
#: Rows per Arrow batch sent to the model (Spark's default is 10,000): fewer, larger ``predict``
#: calls; a batch of ~20 numeric columns is still only a few tens of MB.
ROWS_PER_BATCH = 100_000
#: A batch holds at most this many values of the table's columns (~16 MB of numbers): a wide
#: table gets shorter batches.
VALUES_PER_BATCH = 2_000_000
#: The settings that make the batches that large: a columnar scan (Parquet, ORC) hands the UDF
#: its reader's batches (4,096 rows) whatever the Arrow limit says, so its batch grows too.
BATCH_CONFS = (
    "spark.sql.execution.arrow.maxRecordsPerBatch",
    "spark.sql.parquet.columnarReaderBatchSize",
    "spark.sql.orc.columnarReaderBatchSize",
)
#: In the name of the staging table a job writes before renaming it into place (lineage skips it).
STAGING_MARK = "__mlplat_staging_"
_ERROR_LINE = re.compile(r"^\s*([\w.]+(?:Error|Exception)): (.+)$")


@dataclass(frozen=True)
class BatchResult:
    """What a batch prediction did."""

    rows: int
    seconds: float
    output: str
    input_rows: int = 0
    model: str = ""  # the version that scored: models:/<name>/<version>

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def table_name(value: str, what: str) -> str:
    """``db.table`` (or ``table`` in the current database) with plain identifiers only."""
    parts = (value or "").split(".")
    if not 1 <= len(parts) <= 2:
        raise InvalidInput(f"invalid {what} table {value!r}: use <database>.<table>")
    for part in parts:
        identifier(part, f"{what} table")
    return ".".join(parts)


def predict_table(
    model_uri: str,
    table: str,
    output: str,
    *,
    spark: Any = None,
    mode: WriteMode = "error",
    prediction_column: str = "prediction",
    progress: Progress = no_progress,
    config: MLPlat | None = None,
) -> BatchResult:
    """Score ``table`` with ``model_uri`` (``models:/name@alias`` or ``models:/name/3``) and write
    ``output`` (the input's columns plus ``prediction_column``). ``mode="error"`` refuses an
    existing output table, ``"overwrite"`` replaces it. Raises ``MLPlatError`` subclasses with
    one-line messages."""
    from jupyter_mlplat.deploy.models import ModelRef

    config = config or MLPlat()
    if mode not in ("error", "overwrite"):
        raise InvalidInput(f"mode must be 'error' or 'overwrite', not {mode!r}")
    source, target = table_name(table, "input"), table_name(output, "output")
    identifier(prediction_column, "prediction column")
    if source.lower() == target.lower():
        raise InvalidInput(f"the output table must differ from the input table ({source})")
    ModelRef.parse(model_uri)

    started = time.monotonic()
    spark = spark if spark is not None else _session(config)
    start_python_workers(spark)
    # counted while the model is resolved and the job planned (if the table is missing, the
    # check below says so and this error is never asked for)
    input_count = _in_background(lambda: spark.table(source).count())
    progress(f"resolving {model_uri}", 0.02)
    pinned = pinned_version(config, model_uri)
    _check_tables(spark, source, target, mode)

    progress(f"loading {pinned}", 0.1)
    info = _model_info(pinned, config)
    frame = spark.table(source)
    columns = list(frame.columns)
    inputs = _input_columns(info.signature, columns, source)
    if prediction_column in columns:
        raise InvalidInput(
            f"{source} already has a column {prediction_column!r}: choose another prediction "
            "column name"
        )
    udf = _model_udf(spark, pinned, info)

    from pyspark.sql import functions

    scored = frame.withColumn(prediction_column, udf(functions.struct(*inputs)))
    staging = _staging_name(target)
    # before the job starts: it would queue behind the job's tasks, then take a worker's slot
    input_rows = int(_spark_call(input_count.result))
    progress(f"scoring {source} into {target}", 0.2)
    try:
        batch = str(rows_per_batch(len(columns)))
        with _session_conf(spark, dict.fromkeys(BATCH_CONFS, batch)):
            _spark_call(lambda: scored.write.mode("error").saveAsTable(staging))
        progress("checking row counts", 0.85)
        rows = int(_spark_call(lambda: spark.table(staging).count()))
        if rows != input_rows:
            raise MLPlatError(f"scored {rows} rows but {source} has {input_rows}; nothing written")
        progress(f"publishing {target}", 0.95)
        _publish(spark, staging, target, mode)
    except BaseException:
        _drop_quietly(spark, staging)
        raise
    seconds = time.monotonic() - started
    progress("done", 1.0)
    return BatchResult(rows, seconds, target, input_rows, pinned)


# -- steps ------------------------------------------------------------------------------------
def pinned_version(config: MLPlat, model_uri: str) -> str:
    """``models:/name/<version>`` that ``model_uri`` names now (an alias is looked up once)."""
    from mlflow.exceptions import MlflowException

    from jupyter_mlplat.deploy.models import ModelRef
    from jupyter_mlplat.deploy.registry import client_for

    name, version, alias = ModelRef.parse(model_uri)
    client = client_for(config)
    try:
        if alias is not None:
            version = str(client.get_model_version_by_alias(name, alias).version)
        else:
            client.get_model_version(name, str(version))
    except MlflowException as err:
        if err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            what = f"alias {alias!r}" if alias is not None else f"version {version}"
            raise NotFound(f"registered model {name!r} has no {what}") from None
        raise Unavailable(f"MLflow registry: {_one_line(err.message)}") from None
    return f"models:/{name}/{version}"


def _session(config: MLPlat) -> Any:
    """The active Spark Connect session, else a new one to the configured Spark."""
    from pyspark.sql.connect.session import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    from jupyter_mlplat.spark.session import SparkSessions

    return SparkSessions(config).attach()


def _check_tables(spark: Any, source: str, target: str, mode: str) -> None:
    if not _spark_call(lambda: spark.catalog.tableExists(source)):
        raise NotFound(f"table {source} does not exist")
    database = target.rpartition(".")[0]
    if database and not _spark_call(lambda: spark.catalog.databaseExists(database)):
        raise NotFound(f"database {database} does not exist")
    if mode == "error" and _spark_call(lambda: spark.catalog.tableExists(target)):
        raise Conflict(f"table {target} already exists: choose another output or overwrite it")


def _model_info(model_uri: str, config: MLPlat) -> Any:
    """The model's metadata (its ``MLmodel`` file: signature, flavors), not its files."""
    import mlflow

    if config.tracking_uri:
        # also where the workers download the model from
        mlflow.set_tracking_uri(config.tracking_uri)
    try:
        return mlflow.models.get_model_info(model_uri)
    except mlflow.exceptions.MlflowException as err:
        raise Unavailable(f"cannot load {model_uri}: {_one_line(err.message)}") from None


def _model_udf(spark: Any, model_uri: str, info: Any) -> Any:
    """The UDF that scores a struct of input columns: the platform's worker-cached one, or
    MLflow's ``spark_udf`` for outputs it does not handle."""
    import mlflow

    spark_type = prediction_type(info.signature)
    if spark_type is None:
        return _mlflow_udf(spark, model_uri, info)
    from pyspark.sql.functions import pandas_udf

    from jupyter_mlplat.deploy.batch_worker import scorer

    source = f"{info.model_uuid} {info.utc_time_created}"  # unique to this logged model
    score = scorer(model_uri, source, mlflow.get_tracking_uri(), spark_type)
    return pandas_udf(score, spark_type)  # type: ignore[call-overload]


def _mlflow_udf(spark: Any, model_uri: str, info: Any) -> Any:
    import mlflow

    # their notes (env_manager="local" does not recreate the training environment: the workers
    # run this one; which flavor backend was picked) are noise in a cell's output
    loggers = [logging.getLogger(name) for name in ("mlflow.pyfunc", "mlflow.models")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        return mlflow.pyfunc.spark_udf(
            spark, model_uri, result_type=result_type(info.signature), env_manager="local"
        )
    except mlflow.exceptions.MlflowException as err:
        raise Unavailable(f"cannot load {model_uri}: {_one_line(err.message)}") from None
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def rows_per_batch(columns: int) -> int:
    """Rows per batch for a table of ``columns`` columns: :data:`ROWS_PER_BATCH`, fewer for a
    wide table, never fewer than the readers' default (4,096)."""
    return max(4096, min(ROWS_PER_BATCH, VALUES_PER_BATCH // max(columns, 1)))


def start_python_workers(spark: Any) -> None:
    """Run a one-row Python job in the background, so that Spark starts its Python workers
    while this thread resolves the model and plans the job, not once the job's tasks ask for
    them: on a new Spark the workers' daemon first imports pandas, pyarrow, MLflow and
    scikit-learn (seconds of CPU, :mod:`~jupyter_mlplat.spark.worker_daemon`), which then
    overlaps with the driver's steps. The same session: Spark keeps one daemon per session's
    environment. When the workers run already, the job takes an idle one for a moment.
    Its result and errors are not looked at: it is only a head start."""
    from pyspark.sql import functions

    # a builtin: pickled by reference, so the worker imports nothing for it
    _in_background(spark.range(0, 1, 1, 1).select(functions.udf(abs, "long")("id")).collect)


def _in_background(call: Callable[[], Any]) -> Future[Any]:
    """``call()`` in a thread of its own: its result or error in the future returned."""
    future: Future[Any] = Future()

    def run() -> None:
        try:
            future.set_result(call())
        except BaseException as err:  # the caller sees it when it asks for the result
            future.set_exception(err)

    threading.Thread(target=run, name="mlplat-batch", daemon=True).start()
    return future


@contextlib.contextmanager
def _session_conf(spark: Any, settings: dict[str, str]) -> Iterator[None]:
    """The session's ``settings`` for one job, then the values before put back."""
    before = {key: _spark_call(functools.partial(spark.conf.get, key)) for key in settings}
    for key, value in settings.items():
        _spark_call(functools.partial(spark.conf.set, key, value))
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # the job's own error is the one to report
            for key, value in before.items():
                spark.conf.set(key, value)


def prediction_type(signature: Any) -> str | None:
    """The Spark type of a model's predictions when they are one column of a plain type
    (a tensor of labels, as sklearn logs, or one named output column); None otherwise."""
    kind = result_type(signature)
    if kind is not None:
        return kind
    outputs = signature.outputs if signature is not None else None
    if outputs is None or outputs.is_tensor_spec() or len(outputs.inputs) != 1:
        return None
    return {"boolean": "boolean", "integer": "int", "long": "long", "float": "float",
            "double": "double", "string": "string"}.get(outputs.inputs[0].type.name)  # fmt: skip


def result_type(signature: Any) -> str | None:
    """The Spark type of a model's predictions when MLflow cannot infer it (a single tensor of
    labels, as sklearn classifiers log); None lets MLflow read a column-based output schema."""
    outputs = signature.outputs if signature is not None else None
    if outputs is None or not outputs.is_tensor_spec() or len(outputs.inputs) != 1:
        return None
    kind = outputs.inputs[0].type.kind
    return {"O": "string", "U": "string", "S": "string", "b": "boolean", "i": "long",
            "u": "long", "f": "double"}.get(kind)  # fmt: skip


def _input_columns(signature: Any, columns: list[str], source: str) -> list[str]:
    """The model's input columns (from its signature), checked against the table's."""
    schema = signature.inputs if signature is not None else None
    if schema is None or not schema.has_input_names():
        return columns  # no named signature: the model gets every column
    wanted = list(schema.input_names())
    optional = set(schema.optional_input_names())
    missing = [name for name in wanted if name not in columns and name not in optional]
    if missing:
        raise InvalidInput(
            f"{source} lacks the model's input column(s) {', '.join(missing)} "
            f"(it has {', '.join(columns)})"
        )
    return [name for name in wanted if name in columns]


def _publish(spark: Any, staging: str, target: str, mode: str) -> None:
    exists = _spark_call(lambda: spark.catalog.tableExists(target))
    if exists and mode == "error":
        raise Conflict(f"table {target} was created meanwhile; nothing written")
    if exists:
        _spark_call(lambda: spark.sql(f"DROP TABLE {target}"))
    _spark_call(lambda: spark.sql(f"ALTER TABLE {staging} RENAME TO {target}"))


def _staging_name(target: str) -> str:
    database, _, table = target.rpartition(".")
    name = f"{table[:90]}{STAGING_MARK}{uuid.uuid4().hex[:8]}"
    return f"{database}.{name}" if database else name


def _drop_quietly(spark: Any, table: str) -> None:
    with contextlib.suppress(Exception):  # cleanup after an error that is being raised
        spark.sql(f"DROP TABLE IF EXISTS {table}")


def _spark_call(call: Callable[[], Any]) -> Any:
    """Run a Spark call; its errors (often a Python traceback from a worker) in one line."""
    from pyspark.errors import PySparkException

    try:
        return call()
    except PySparkException as err:
        raise MLPlatError(f"Spark: {_one_line(str(err))}") from None
    except ConnectionError as err:
        raise Unavailable(f"Spark is unreachable: {err}") from None


def _one_line(text: str) -> str:
    """The telling line of a long error: the last ``XError: ...`` line, else the first line."""
    lines = [line for line in str(text).splitlines() if line.strip()]
    errors = [m for m in (_ERROR_LINE.match(line) for line in lines) if m]
    line = f"{errors[-1][1]}: {errors[-1][2]}" if errors else (lines[0] if lines else "")
    line = " ".join(line.split())
    return line if len(line) <= 400 else line[:397] + "..."
