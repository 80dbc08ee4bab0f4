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
goes through MLServer's codecs unchanged. The model's ``predict`` is untouched: MLflow still
enforces the signature on the frame.

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
from mlserver.batching.requests import BatchedRequests
from mlserver.codecs import NumpyCodec, PandasCodec
from mlserver.codecs.numpy import to_dtype
from mlserver.codecs.utils import _get_content_type, _save_decoded, has_decoded
from mlserver.types import Datatype, InferenceRequest, InferenceResponse, RequestInput
from mlserver_mlflow import MLflowRuntime as _MLflowRuntime


class MLflowRuntime(_MLflowRuntime):
    """mlserver-mlflow's runtime; requests of plain numeric columns skip the per-column
    ``pd.Series``; concurrent requests are batched without waiting."""

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
        return bool(loaded)

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        if self._batch_size <= 1:
            return await super().predict(payload)
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
                response = await super().predict(payload)
            except Exception as err:
                if not answer.done():  # done: its request was cancelled
                    answer.set_exception(err)
            else:
                if not answer.done():
                    answer.set_result(response)
            return
        try:
            merged = BatchedRequests({str(i): payload for i, (payload, _) in enumerate(batch)})
            responses = merged.split_response(await super().predict(merged.merged_request))
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
