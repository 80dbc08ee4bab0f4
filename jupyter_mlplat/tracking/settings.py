"""Environment that points a kernel's MLflow client at the platform's tracking server."""

from __future__ import annotations

from jupyter_mlplat.config import MLPlat

#: Client settings that make large artifacts robust through the server's artifact proxy:
#: long timeouts for multi-GiB transfers and retries with backoff.
LARGE_ARTIFACT_SETTINGS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "3600",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "5",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "2",
}

#: Multipart uploads through the proxy, for stores that support them (S3, GCS, Azure).
MULTIPART_SETTINGS = {
    "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "true",
    "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE": str(64 * 1024 * 1024),
    "MLFLOW_MULTIPART_DOWNLOAD_CHUNK_SIZE": str(64 * 1024 * 1024),
}


def tracking_environment(config: MLPlat, notebook_path: str = "") -> dict[str, str]:
    """MLflow variables for a kernel of ``notebook_path``."""
    env = {
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "GX_ANALYTICS_ENABLED": "false",
    }
    if not config.tracking_uri:
        return env
    env |= {
        "MLFLOW_TRACKING_URI": config.tracking_uri,
        "MLFLOW_EXPERIMENT_NAME": config.experiment_for(notebook_path),
    }
    if config.async_logging:
        env |= {
            "MLFLOW_ENABLE_ASYNC_LOGGING": "true",
            "MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS": "1",
        }
    if config.artifact_proxy:
        env |= LARGE_ARTIFACT_SETTINGS
        if config.artifact_multipart:
            env |= MULTIPART_SETTINGS
    return env
