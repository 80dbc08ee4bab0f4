"""The local model servers' runtime: mlserver-mlflow's ``MLflowRuntime`` (the one KServe
runs for ``modelFormat: mlflow``) with a cheaper V2 → pandas decode.

Runs in the serving environment (copied next to each server's ``model-settings.json``, where
MLServer imports it from): only MLServer, mlserver-mlflow, NumPy and pandas, no
``jupyter_mlplat``.

MLServer's pandas codec turns each input into a ``pd.Series`` and builds the frame from a
dict of them (index alignment, then consolidation into one block): ~1.7 ms of a one-row
request's ~6 ms. Most requests are one numeric column per input, all of one length and
dtype: for those the frame is built from the stacked arrays, the same values, dtypes,
columns, index and memory layout (one C-ordered block) as the codec's. Anything else (strings,
JSON columns, per-input content types, ragged or multi-dimensional inputs, mixed dtypes)
goes through MLServer's codecs unchanged.

MLflow's signature check (``PyFuncModel.predict``) splits the frame into one ``Series`` per
column and builds a new frame from them (~0.45 ms of a one-row request of 20 columns). When
the check cannot change anything it is skipped: a tabular flavour's model (scikit-learn,
XGBoost, LightGBM, CatBoost) whose signature is required numeric or boolean columns and no
parameters, and a frame of exactly those columns, in that order, each already of the
signature's dtype (MLflow would return each column unchanged and rebuild the same frame).
Any other request, model or signature goes through MLflow's ``predict``, with its
conversions and errors; its errors about the input answer 400 in one line (MLServer
answers 500 to any exception a model raises).

Batching that does not hold a lone request (``parameters.extra.batch_size`` > 1; MLServer's
own adaptive batching off): MLServer's batcher holds every request up to ``max_batch_time``
for company, which at one client at a time is pure latency. Here a batch is formed one turn
of the event loop after its first request (the requests read meanwhile, queued up while the
model was busy, join it); it waits longer (up to ``extra.batch_wait`` seconds, until it holds
as many requests as were in flight while the last batch formed) only while requests come
together: one client at a time never waits. Merging and splitting are MLServer's
(``BatchedRequests``), as in its adaptive batching, and only requests of the same inputs are
merged; a batch that fails is retried one request at a time, so a malformed request fails alone.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlserver.batching.requests import BatchedRequests
from mlserver.codecs import NumpyCodec, PandasCodec
from mlserver.codecs.numpy import to_dtype
from mlserver.codecs.utils import _get_content_type, _save_decoded, has_decoded
from mlserver.errors import InferenceError
from mlserver.logging import logger
from mlserver.types import Datatype, InferenceRequest, InferenceResponse, RequestInput
from mlserver_mlflow import MLflowRuntime as _MLflowRuntime
from mlserver_mlflow import TensorDictCodec

# MLflow's answers to input that does not fit the model (its signature, its parameters)
INPUT_ERRORS = frozenset({"INVALID_PARAMETER_VALUE", "BAD_REQUEST"})
# pyfunc flavours whose ``predict`` is the library model's own (no tracing or context use)
TABULAR_FLAVOURS = frozenset(
    {"mlflow.sklearn", "mlflow.xgboost", "mlflow.lightgbm", "mlflow.catboost"}
)


class MLflowRuntime(_MLflowRuntime):
    """mlserver-mlflow's runtime; requests of plain numeric columns skip the per-column
    ``pd.Series``, MLflow's signature check is skipped where it changes nothing, concurrent
    requests are batched without waiting."""

    _batch: list[tuple[InferenceRequest, asyncio.Future[InferenceResponse]]] | None = None
    _timer: asyncio.TimerHandle | None = None
    _inflight = 0  # requests in predict, not answered yet
    _peak = 0  # the most in flight since the last batch was formed
    _together = 1  # the most in flight while the last batch formed: how many come together

    async def load(self) -> bool:
        loaded = await super().load()
        extra = (self._settings.parameters and self._settings.parameters.extra) or {}
        self._batch_size = int(extra.get("batch_size", 1))
        self._wait = float(extra.get("batch_wait", 0.0))
        self._running: set[asyncio.Task[None]] = set()
        self._columns = checked_columns(self._model)
        if self._columns is not None:
            logger.info(
                "requests of exactly the signature's %d columns and dtypes skip MLflow's "
                "signature check (it would change nothing)",
                len(self._columns[0]),
            )
        return bool(loaded)

    def _infer(self, payload: InferenceRequest) -> InferenceResponse:
        """mlserver-mlflow's ``predict``, without MLflow's signature check where it is a no-op."""
        frame = self.decode_request(payload)
        params = (payload.parameters.model_extra if payload.parameters else None) or None
        if params is None and self._columns is not None and conforms(frame, self._columns):
            output = self._model._predict_fn(frame)
        else:
            try:
                output = self._model.predict(frame, params=params)
            except MlflowException as err:
                if err.error_code not in INPUT_ERRORS:
                    raise
                raise InferenceError(input_error(err.message)) from err  # 400, not 500
        return self.encode_response(output, default_codec=TensorDictCodec)

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        if self._batch_size <= 1:
            return self._infer(payload)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[InferenceResponse] = loop.create_future()
        if self._batch is None:
            self._batch = []
            # after the requests already read (queued while the model was busy) join
            loop.call_soon(self._formed, self._batch)
        self._batch.append((payload, answer))
        self._inflight += 1
        self._peak = max(self._peak, self._inflight)
        if self._timer is not None and len(self._batch) >= self._expected():
            self._flush()
        try:
            return await answer
        finally:
            self._inflight -= 1

    def _expected(self) -> int:
        return min(self._batch_size, self._together)

    def _formed(self, batch: list[Any]) -> None:
        """One loop turn after the batch's first request: predict now, or, while requests
        come together (several were in flight while the last batch formed), wait up to
        ``batch_wait`` for as many."""
        if batch is not self._batch:
            return  # flushed already (it filled up)
        if len(batch) >= self._expected() or self._wait <= 0:
            self._flush()
        else:
            self._timer = asyncio.get_running_loop().call_later(self._wait, self._flush)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._batch = self._batch or [], None
        self._together, self._peak = max(1, self._peak), self._inflight
        alike: dict[tuple[Any, ...], list[Any]] = {}
        for item in batch:
            alike.setdefault(_merge_key(item[0]), []).append(item)
        for group in alike.values():
            for start in range(0, len(group), self._batch_size):
                task = asyncio.ensure_future(
                    self._predict_batch(group[start : start + self._batch_size])
                )
                self._running.add(task)  # a reference until done (the loop keeps only weak ones)
                task.add_done_callback(self._running.discard)

    async def _predict_batch(
        self, batch: list[tuple[InferenceRequest, asyncio.Future[InferenceResponse]]]
    ) -> None:
        """One ``predict`` for the whole batch; each request alone if that fails."""
        if len(batch) == 1:
            payload, answer = batch[0]
            try:
                response = self._infer(payload)
            except Exception as err:
                if not answer.done():  # done: its request was cancelled
                    answer.set_exception(err)
            else:
                if not answer.done():
                    answer.set_result(response)
            return
        try:
            merged = BatchedRequests({str(i): payload for i, (payload, _) in enumerate(batch)})
            responses = merged.split_response(self._infer(merged.merged_request))
        except Exception:
            for each in batch:  # a malformed request fails alone, not its batch
                await self._predict_batch([each])
            return
        for i, (_, answer) in enumerate(batch):
            if not answer.done():
                answer.set_result(responses[str(i)])

    def decode_request(self, inference_request: InferenceRequest, default_codec: Any = None) -> Any:
        frame = column_frame(inference_request, self._settings, self._inputs_index)
        if frame is None:
            return super().decode_request(inference_request, default_codec)
        _save_decoded(inference_request, frame)  # as MLServer's decode leaves the request
        return frame


def checked_columns(model: Any) -> tuple[tuple[str, ...], tuple[np.dtype[Any], ...]] | None:
    """The signature's column names and NumPy dtypes when MLflow's check of a frame of
    exactly those columns and dtypes changes nothing, else None (the check always runs)."""
    metadata: Any = getattr(model, "metadata", None)  # None: "hinted" below is None too
    # MLflow's own tests of whether ``predict`` would convert the input (private: if a later
    # MLflow drops them, every request takes its check)
    hinted = getattr(metadata, "_is_signature_from_type_hint", None)
    from_example = getattr(metadata, "_is_type_hint_from_example", None)
    if (
        getattr(model, "loader_module", None) not in TABULAR_FLAVOURS
        or not callable(getattr(model, "_predict_fn", None))
        or hinted is None
        or from_example is None
        or hinted()
        or from_example()
        or metadata.get_params_schema() is not None
    ):
        return None
    schema = metadata.get_input_schema()
    if schema is None or schema.is_tensor_spec() or not schema.has_input_names():
        return None
    names, dtypes = [], []
    for spec in schema.inputs:
        if not spec.required or not hasattr(spec.type, "to_numpy"):
            return None  # optional columns, objects, arrays, maps: MLflow's own handling
        dtype = np.dtype(spec.type.to_numpy())
        if dtype.kind not in "biuf":
            return None  # strings, bytes, dates: MLflow's own handling
        names.append(spec.name)
        dtypes.append(dtype)
    return tuple(names), tuple(dtypes)


def conforms(frame: Any, columns: tuple[tuple[str, ...], tuple[np.dtype[Any], ...]]) -> bool:
    """``frame`` has exactly the signature's columns, in order, each of its dtype."""
    names, dtypes = columns
    return (
        isinstance(frame, pd.DataFrame)
        and tuple(frame.columns) == names
        and all(dtype == want for dtype, want in zip(frame.dtypes, dtypes, strict=True))
    )


def input_error(message: str) -> str:
    """MLflow's message in one line: a failed signature check names the data it was given
    (a frame's whole text) before the reason, which is what the caller needs."""
    if message.startswith("Failed to enforce schema") and "Error: " in message:
        message = (
            "the input does not match the model's signature: " + message.rsplit("Error: ", 1)[1]
        )
    line = " ".join(message.split())
    return line if len(line) <= 500 else line[:499] + "…"


def _merge_key(request: InferenceRequest) -> tuple[Any, ...]:
    """Requests merge only with requests of the same inputs (names, types, shape of a row,
    content types): MLServer's merge lines inputs up by name, so a request with another
    column merged with good ones would be decoded into one frame with them (aligned on the
    index, gaps filled) and be answered as if it were valid."""

    def content_type(parameters: Any) -> Any:
        return parameters.content_type if parameters is not None else None

    inputs = tuple(
        (i.name, str(i.datatype), tuple(i.shape[1:]), content_type(i.parameters))
        for i in request.inputs
    )
    return (content_type(request.parameters), inputs)


def column_frame(
    request: InferenceRequest, settings: Any, metadata: dict[str, Any]
) -> pd.DataFrame | None:
    """The frame MLServer's pandas codec would decode ``request`` to, or None when the
    request is not one numeric column per input (all of one length and dtype)."""
    if has_decoded(request) or _get_content_type(request, settings) != PandasCodec.ContentType:
        return None
    names: list[str] = []
    columns: list[np.ndarray] = []
    for request_input in request.inputs:
        column = _column(request_input, metadata.get(request_input.name))
        if column is None or (
            columns and (column.size != columns[0].size or column.dtype != columns[0].dtype)
        ):
            return None  # the codec's: a frame of several blocks, or aligned on the index
        names.append(request_input.name)
        columns.append(column)
    if not columns or len(set(names)) != len(names):
        return None
    # (columns, rows) C-ordered, as the consolidated block of a frame built from a dict of
    # Series; the frame takes it without a copy
    block = np.vstack(columns)
    return pd.DataFrame(block.T, columns=pd.Index(names, dtype=object), copy=False)


def _column(request_input: RequestInput, metadata: Any) -> np.ndarray | None:
    """One input as the codecs decode it for a frame (NumpyCodec, then one column), or None
    if it is not a plain numeric column."""
    if (
        request_input.datatype == Datatype.BYTES.value
        or has_decoded(request_input)
        or _get_content_type(request_input, metadata) != NumpyCodec.ContentType
    ):
        return None
    shape = request_input.shape
    try:
        data = getattr(request_input.data, "root", request_input.data)
        array = np.array(data, to_dtype(request_input)).reshape(shape)
    except (TypeError, ValueError):
        return None  # the codecs raise their own error for it
    rows = shape[0] if shape else -1
    return array.reshape(rows) if array.size == rows else None
