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
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from mlserver.codecs import NumpyCodec, PandasCodec
from mlserver.codecs.numpy import to_dtype
from mlserver.codecs.utils import _get_content_type, _save_decoded, has_decoded
from mlserver.types import Datatype, InferenceRequest, RequestInput
from mlserver_mlflow import MLflowRuntime as _MLflowRuntime


class MLflowRuntime(_MLflowRuntime):
    """mlserver-mlflow's runtime; requests of plain numeric columns skip the per-column
    ``pd.Series``."""

    def decode_request(self, inference_request: InferenceRequest, default_codec: Any = None) -> Any:
        frame = column_frame(inference_request, self._settings, self._inputs_index)
        if frame is None:
            return super().decode_request(inference_request, default_codec)
        _save_decoded(inference_request, frame)  # as MLServer's decode leaves the request
        return frame


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
