"""The one configuration object of jupyter-mlplat.

Every component (server extension, kernel extension, local platform, spawner config) reads its
settings from :class:`MLPlat`. Values come, in order of precedence, from

1. Jupyter config files / the command line (``c.MLPlat.tracking_uri = ...``),
2. environment variables (``MLP_TRACKING_URI=...``; what a JupyterHub spawner sets),
3. the built-in defaults.

Nobody else parses ``MLP_*`` variables: ask this object instead.
"""

from __future__ import annotations

import fnmatch
import getpass
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from traitlets import Bool, Enum, Float, Int, List, TraitError, Unicode, validate
from traitlets.config import Configurable

#: Variables that carry storage credentials or other secrets; never passed to a kernel.
DEFAULT_SECRET_PATTERNS = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AZURE_STORAGE_*",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GCS_*",
    "MLFLOW_S3_*",
    "MLFLOW_GCS_*",
    "MLFLOW_ARTIFACT_*",
    "MLFLOW_DEFAULT_ARTIFACT_ROOT",
    "MINIO_*",
    "JUPYTERHUB_API_TOKEN",
    "JPY_API_TOKEN",
    "*_SECRET",
    "*_SECRET_KEY",
    "*_PASSWORD",
]

#: The user's own MLflow credential (``jupyter_mlplat.tracking.auth``): created by the platform
#: for that user only, so it reaches kernels although ``*_PASSWORD`` is denied otherwise.
USER_CREDENTIAL_VARIABLES = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")

#: KServe deployment modes by every name they had: KServe's deprecated aliases (Serverless,
#: RawDeployment) and this platform's old values (serverless, raw, standard).
KSERVE_MODES = {"knative": "Knative", "serverless": "Knative",
                "standard": "Standard", "rawdeployment": "Standard", "raw": "Standard"}  # fmt: skip


#: How a kernel finds its Jupyter server's platform API: the server sets both per kernel (the
#: URL, and the path of a token file that opens only the routes meant for kernels).
#: Not ``*API_TOKEN*``: MLflow records variables with that in their name as credentials "used
#: during model inference" when any HTTP call (a proxy lookup reads every variable) runs while
#: ``log_model`` validates its input example, and warns about it.
API_URL_VARIABLE = "MLP_API_URL"
API_TOKEN_FILE_VARIABLE = "MLP_KERNEL_TOKEN_FILE"  # noqa: S105 (a variable's name, not a secret)

#: The built-in backends of each kind: configured name -> ``module:Class`` (imported on first
#: use). Other packages add backends as entry points of ``jupyter_mlplat.<kind>_backends``; a
#: setting may also name a class directly as ``package.module:Class``.
BUILTIN_BACKENDS: dict[str, dict[str, str]] = {
    "spark": {
        "local": "jupyter_mlplat.spark.backends:LocalBackend",
        "connect": "jupyter_mlplat.spark.backends:ConnectBackend",
        "kubernetes": "jupyter_mlplat.spark.kubernetes:KubernetesBackend",
        "livy": "jupyter_mlplat.spark.livy:LivyBackend",
        "none": "jupyter_mlplat.spark.backends:DisabledBackend",
    },
    "deploy": {
        "local": "jupyter_mlplat.deploy.local:LocalBackend",
        "kserve": "jupyter_mlplat.deploy.kserve:KServeBackend",
    },
    "catalog": {"spark": "jupyter_mlplat.catalog.spark_backend:SparkCatalogBackend"},
}


def backend_entry_points(kind: str) -> list[Any]:
    """Installed entry points that add backends of ``kind`` (a 15-30 ms scan: only on demand)."""
    from importlib.metadata import entry_points

    return list(entry_points(group=f"jupyter_mlplat.{kind}_backends"))


class BackendName(Unicode):
    """A setting that names a backend of one kind: built-in, entry point or ``module:Class``."""

    def __init__(self, kind: str, default_value: str, **kwargs: Any) -> None:
        self.kind = kind
        names = ", ".join(BUILTIN_BACKENDS[kind])
        kwargs["help"] = (
            f"{kwargs.get('help', '')} Built in: {names}; or an entry point of "
            f"jupyter_mlplat.{kind}_backends, or package.module:Class."
        )
        super().__init__(default_value, **kwargs)

    def validate(self, obj: Any, value: Any) -> str:
        name = super().validate(obj, value)
        known = BUILTIN_BACKENDS[self.kind]
        if name in known or ":" in name:
            return str(name)
        if any(ep.name == name for ep in backend_entry_points(self.kind)):
            return str(name)
        raise TraitError(f"unknown {self.kind} backend {name!r} (built in: {', '.join(known)})")


def env_trait(trait: Any, *names: str) -> Any:
    """Tag a trait with the environment variables (first wins) that provide its default."""
    return trait.tag(config=True, env=names)


class MLPlat(Configurable):
    """Settings of the whole platform: tracking, Spark, catalog, deployment, local state."""

    user = env_trait(
        Unicode(help="User name used for experiments, run tags and resource names."),
        "MLP_USER",
        "JUPYTERHUB_USER",
    )
    state_dir = env_trait(
        Unicode(
            help="Directory where the local platform keeps its state (MLflow database, artifacts, "
            "Spark warehouse, logs); never passed to kernels. "
            "Example: c.MLPlat.state_dir = '/data/mlplat'"
        ),
        "MLP_STATE_DIR",
    ).tag(server_only=True)
    tracking_uri = env_trait(
        Unicode(
            "",
            help="MLflow tracking server URL that kernels log to. "
            "Example: c.MLPlat.tracking_uri = 'http://mlflow.mlflow.svc:5000'",
        ),
        "MLP_TRACKING_URI",
        "MLFLOW_TRACKING_URI",
    )
    tracking_ui_url = env_trait(
        Unicode(
            "",
            help="MLflow URL the Jupyter server proxies the MLflow UI from "
            "(default: tracking_uri).",
        ),
        "MLP_TRACKING_UI_URL",
    )
    tracking_auth = env_trait(
        Bool(
            False,
            help="Users and permissions on the tracking server (MLflow's basic-auth app): each "
            "user logs as themself, owns what they create, reads everything else. On in "
            "`mlplat hub` and in the hub's config of a cluster (c.MLPlat.tracking_auth = True); "
            "off in the single-user `mlplat up`.",
        ),
        "MLP_TRACKING_AUTH",
    )
    tracking_admin_dir = env_trait(
        Unicode(
            "",
            help="Folder holding the tracking server's admin credential as two files, username "
            "and password (a mounted Kubernetes Secret; default: <state_dir>/mlflow/admin, "
            "0600 files). Read by the hub and the local platform only. "
            "Example: c.MLPlat.tracking_admin_dir = '/etc/mlplat/mlflow-admin'",
        ),
        "MLP_TRACKING_ADMIN_DIR",
    ).tag(server_only=True)
    tracking_team_permission = env_trait(
        Enum(
            ["EDIT", "MANAGE"],
            "EDIT",
            help="What the members of a creator's team groups (the JupyterHub groups of the "
            "user) get on the experiments and registered models the creator makes: EDIT (log, "
            "tag, register versions, move aliases; deleting stays the owner's) or MANAGE (also "
            "delete and change permissions, as the owner). Read by the tracking server's "
            "mlplat-auth app.",
        ),
        "MLP_TRACKING_TEAM_PERMISSION",
    ).tag(server_only=True)
    artifact_proxy = env_trait(
        Bool(
            True,
            help="Artifacts go through the tracking server's proxy (mlflow-artifacts:); "
            "storage credentials are removed from kernel environments.",
        ),
        "MLP_ARTIFACT_PROXY",
    )
    artifact_multipart = env_trait(
        Bool(
            False,
            help="Kernels upload large artifacts in parts through the proxy. Turn on when the "
            "server's artifact store supports multipart uploads (S3, GCS, Azure); the local "
            "file store does not, and single streamed uploads are what it wants.",
        ),
        "MLP_ARTIFACT_MULTIPART",
    )
    experiment_name = env_trait(
        Unicode(
            "/Users/{user}",
            help="Default experiment of a kernel. Placeholders: {user}, {notebook} (file name "
            "without extension), {notebook_dir}. Example: '/Users/{user}/{notebook}'",
        ),
        "MLP_EXPERIMENT",
    )
    autolog = env_trait(Bool(True, help="Turn on mlflow.autolog() in every kernel."), "MLP_AUTOLOG")
    autolog_triggers = env_trait(
        List(
            Unicode(),
            ["mlflow", "sklearn", "xgboost", "lightgbm", "statsmodels"],
            help="Modules whose first import configures MLflow (autolog, experiment) in a kernel.",
        ),
        "MLP_AUTOLOG_TRIGGERS",
    )
    async_logging = env_trait(
        Bool(True, help="Log metrics/params asynchronously (flushed at run end and kernel exit)."),
        "MLP_ASYNC_LOGGING",
    )
    notebook_path = env_trait(
        Unicode("", help="Path of the notebook a kernel belongs to (set per kernel)."),
        "MLP_NOTEBOOK_PATH",
        "JPY_SESSION_NAME",
    )
    inject_kernels = env_trait(
        Bool(
            True,
            help="Start every kernel with the platform environment and the %mlp extension loaded.",
        ),
        "MLP_INJECT_KERNELS",
    )
    kernel_env_denylist = env_trait(
        List(
            Unicode(),
            DEFAULT_SECRET_PATTERNS,
            help="Glob patterns of environment variables never passed to kernels.",
        ),
        "MLP_KERNEL_ENV_DENYLIST",
    )
    spark_mode = env_trait(
        BackendName(
            "spark",
            "local",
            help="Where `spark` comes from: the local Spark Connect server, an existing Connect "
            "endpoint, a per-user Spark on Kubernetes session, a Livy endpoint, or none.",
        ),
        "MLP_SPARK_MODE",
    )
    spark_remote = env_trait(
        Unicode("", help="Spark Connect URL (sc://host:port/;token=...) or Livy URL."),
        "MLP_SPARK_REMOTE",
        "SPARK_REMOTE",
    )
    spark_ui_url = env_trait(
        Unicode("", help="Spark UI of the session, when the platform knows it."),
        "MLP_SPARK_UI_URL",
    )
    spark_progress_interval = env_trait(
        Unicode("500ms", help="How often a running Spark Connect query reports progress."),
        "MLP_SPARK_PROGRESS_INTERVAL",
    )
    spark_image = env_trait(
        Unicode("apache/spark:4.3.0", help="Container image of Spark on Kubernetes sessions."),
        "MLP_SPARK_IMAGE",
    )
    spark_service_account = env_trait(
        Unicode("spark", help="Service account of Spark driver/executor pods on Kubernetes."),
        "MLP_SPARK_SERVICE_ACCOUNT",
    )
    spark_executors_min = env_trait(
        Int(0, help="Dynamic allocation: fewest executors of a Kubernetes session."),
        "MLP_SPARK_EXECUTORS_MIN",
    )
    spark_executors_max = env_trait(
        Int(4, help="Dynamic allocation: most executors of a Kubernetes session."),
        "MLP_SPARK_EXECUTORS_MAX",
    )
    spark_executor_cores = env_trait(
        Int(1, help="Cores per executor (Kubernetes)."), "MLP_SPARK_EXECUTOR_CORES"
    )
    spark_executor_memory = env_trait(
        Unicode("2g", help="Memory per executor (Kubernetes)."), "MLP_SPARK_EXECUTOR_MEMORY"
    )
    spark_driver_cores = env_trait(
        Int(1, help="Cores of the Spark Connect driver (Kubernetes)."), "MLP_SPARK_DRIVER_CORES"
    )
    spark_driver_memory = env_trait(
        Unicode("2g", help="Memory of the Spark Connect driver (Kubernetes)."),
        "MLP_SPARK_DRIVER_MEMORY",
    )
    spark_pod_template = env_trait(
        Unicode("", help="Path of a YAML pod template merged into driver and executor pods."),
        "MLP_SPARK_POD_TEMPLATE",
    )
    spark_conf = env_trait(
        List(Unicode(), [], help="Extra Spark settings as key=value (comma-separated in env)."),
        "MLP_SPARK_CONF",
    )
    spark_ready_timeout = env_trait(
        Int(300, help="Seconds to wait for a Kubernetes Spark session to become ready."),
        "MLP_SPARK_READY_TIMEOUT",
    )
    spark_operator_wait = env_trait(
        Int(
            30,
            help="Seconds a new Kubernetes Spark session may go without any status before it "
            "is reported as not watched by a Spark Operator.",
        ),
        "MLP_SPARK_OPERATOR_WAIT",
    )
    local_spark_memory = env_trait(
        Unicode(
            "512m",
            help="Heap of the local platform's Spark Connect server (driver and executor in one "
            "JVM, spark.driver.memory); its idle size follows what it holds, not this cap.",
        ),
        "MLP_LOCAL_SPARK_MEMORY",
    ).tag(server_only=True)
    local_spark_java_options = env_trait(
        Unicode(
            "-Xms64m -XX:+UseSerialGC -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30 "
            "-XX:MaxMetaspaceSize=384m -XX:ReservedCodeCacheSize=128m",
            help="JVM options of the local Spark Connect server, sized for one user: a small "
            "starting heap that the serial collector gives back, capped metaspace and code cache.",
        ),
        "MLP_LOCAL_SPARK_JAVA_OPTIONS",
    ).tag(server_only=True)
    local_mlflow_workers = env_trait(
        Int(
            1,
            help="Worker processes of the local MLflow server. 1: one process serves everything "
            "(no `mlflow server` parent); more: `mlflow server --workers N`.",
        ),
        "MLP_LOCAL_MLFLOW_WORKERS",
    ).tag(server_only=True)
    livy_auth = env_trait(
        Enum(["None", "Basic_Access", "Kerberos"], "None", help="Livy authentication."),
        "MLP_LIVY_AUTH",
    )
    livy_username = env_trait(Unicode("", help="Livy user (Basic_Access)."), "MLP_LIVY_USERNAME")
    livy_password_file = env_trait(
        Unicode("", help="File holding the Livy password (Basic_Access); read by the kernel."),
        "MLP_LIVY_PASSWORD_FILE",
    )
    catalog_backend = env_trait(
        BackendName("catalog", "spark", help="Metadata catalog backend."),
        "MLP_CATALOG_BACKEND",
    )
    deploy_target = env_trait(
        BackendName("deploy", "local", help="Where models are deployed by default."),
        "MLP_DEPLOY_TARGET",
    )
    artifacts_destination = env_trait(
        Unicode(
            "",
            help="Where the MLflow server keeps proxied artifacts (its --artifacts-destination, "
            "e.g. s3://mlflow/artifacts): turns mlflow-artifacts: locations into storage URIs "
            "KServe can load. Server side only.",
        ),
        "MLP_ARTIFACTS_DESTINATION",
    ).tag(server_only=True)
    deploy_ready_timeout = env_trait(
        Int(300, help="Seconds a deployment may take to become ready before it is rolled back."),
        "MLP_DEPLOY_READY_TIMEOUT",
    )
    serving_env_dir = env_trait(
        Unicode(
            "",
            help="Python environment that runs local model servers (MLServer + mlserver-mlflow); "
            "created from the platform's serving lock on first deploy when missing "
            "(default: <state_dir>/serving-env).",
        ),
        "MLP_SERVING_ENV_DIR",
    ).tag(server_only=True)
    gateway_port = env_trait(
        Int(
            0,
            help="Port of the local inference gateway (HAProxy in front of the local model "
            "servers); 0: a free port, chosen once and kept in <state_dir>/gateway.",
        ),
        "MLP_GATEWAY_PORT",
    ).tag(server_only=True)
    serving_max_batch_size = env_trait(
        Int(
            8,
            help="Batching in local model servers: requests arriving together at one model "
            "server are merged into one predict call, up to this many; 1 turns it off. A batch "
            "that fails is retried one request at a time (a malformed request fails alone).",
        ),
        "MLP_SERVING_MAX_BATCH_SIZE",
    ).tag(server_only=True)
    serving_max_batch_ms = env_trait(
        Float(
            2.0,
            help="How long (ms) a local model server waits at most for more requests to fill "
            "a batch; it waits only while requests come together (its last batch had more "
            "than one): a lone client's request never waits.",
        ),
        "MLP_SERVING_MAX_BATCH_MS",
    ).tag(server_only=True)
    kserve_mode = env_trait(
        Unicode(
            "auto",
            help="KServe deployment mode: Knative (weighted canary through "
            "canaryTrafficPercent) or Standard (KServe 0.20's default: no canary traffic, "
            "deploy and rollback only); auto reads KServe's inferenceservice-config, else "
            "Standard. The old names serverless / raw / RawDeployment are accepted.",
        ),
        "MLP_KSERVE_MODE",
    )

    @validate("kserve_mode")
    def _canonical_kserve_mode(self, proposal: Any) -> str:
        value = str(proposal["value"]).strip()
        if value.lower() == "auto":
            return "auto"
        if value.lower() not in KSERVE_MODES:
            raise TraitError(f"use Knative, Standard or auto, not {value!r}")
        return KSERVE_MODES[value.lower()]

    kserve_service_account = env_trait(
        Unicode(
            "mlplat-models",
            help="Service account of InferenceServices; it holds the storage access "
            "(users never do).",
        ),
        "MLP_KSERVE_SERVICE_ACCOUNT",
    )
    quality_suites_dir = env_trait(
        Unicode(
            "quality/suites",
            help="Where named expectation suites are saved: absolute, or relative to the project "
            "(the nearest folder above the working directory that has it, else the git or "
            "pyproject.toml root); notebooks and pipelines find the same files.",
        ),
        "MLP_QUALITY_SUITES_DIR",
    )
    pipelines_dir = env_trait(
        Unicode(
            "pipelines",
            help="Where pipeline DAG files (and their feature configs) live: absolute, or "
            "relative to the project like quality_suites_dir; the embedded Airflow's DAG folder.",
        ),
        "MLP_PIPELINES_DIR",
    )
    pipelines_publish = env_trait(
        Enum(
            ["folder", "kubernetes"],
            "folder",
            help="How pipeline files reach Airflow: 'folder' (the local Airflow reads the "
            "pipelines folder) or 'kubernetes' (each written file is published as a ConfigMap "
            "in the user's namespace for the team's Airflow; set by the KubeSpawner config).",
        ),
        "MLP_PIPELINES_PUBLISH",
    )
    quality_failing_examples = env_trait(
        Int(5, help="Failing example rows shown per expectation in a check report."),
        "MLP_QUALITY_FAILING_EXAMPLES",
    )
    airflow_url = env_trait(
        Unicode(
            help="Airflow API server the pipelines run on (the local platform sets its embedded "
            "Airflow's URL; a team's shared Airflow otherwise)."
        ),
        "MLP_AIRFLOW_URL",
    )
    airflow_token = env_trait(
        Unicode(help="Bearer token for the Airflow API (a shared Airflow); never reaches kernels."),
        "MLP_AIRFLOW_TOKEN",
    ).tag(server_only=True)
    airflow_shared = env_trait(
        Bool(
            False,
            help="The Airflow is shared by several users: each sees and triggers only the "
            "pipelines tagged owner:<user> (or owned by the user).",
        ),
        "MLP_AIRFLOW_SHARED",
    )
    catalog_refresh_seconds = env_trait(
        Int(300, help="How often the catalog index refreshes itself (0: only on demand)."),
        "MLP_CATALOG_REFRESH_SECONDS",
    )
    catalog_preview_max_rows = env_trait(
        Int(1000, help="Largest row count a table preview may ask for."),
        "MLP_CATALOG_PREVIEW_MAX_ROWS",
    )
    tuning_dir = env_trait(
        Unicode(
            "",
            help="Where tuning studies keep their Optuna journal files, one per study (default: "
            "<the user's state>/tuning). Example: c.MLPlat.tuning_dir = '~/work/.studies'",
        ),
        "MLP_TUNING_DIR",
    )
    tuning_storage = env_trait(
        Unicode(
            "",
            help="Optuna RDB storage (SQLAlchemy URL) shared by trial workers that cannot reach "
            "the journal files, e.g. Spark executors of a cluster; empty: journal files. "
            "Example: 'postgresql+psycopg://optuna@db.team.svc/optuna'",
        ),
        "MLP_TUNING_STORAGE_URL",
    )
    tuning_storage_secret = env_trait(
        Unicode(
            "mlplat-tuning-storage",
            help="Kubernetes Secret (key 'url') with the RDB storage URL of parallel='kubernetes' "
            "studies: only the trial pods read it, never the kernel.",
        ),
        "MLP_TUNING_STORAGE_SECRET_NAME",
    )
    tuning_image = env_trait(
        Unicode(
            "registry.example.com/mlplat/notebook:0.1.0",
            help="Image of the trial pods of parallel='kubernetes' (the notebook image: the "
            "objective's libraries must be there).",
        ),
        "MLP_TUNING_IMAGE",
    )
    tuning_max_pods = env_trait(
        Int(8, help="Most trial pods a parallel='kubernetes' study runs at once."),
        "MLP_TUNING_MAX_PODS",
    )
    tuning_pod_cpu = env_trait(
        Unicode("1", help="CPU request and limit of a trial pod."), "MLP_TUNING_POD_CPU"
    )
    tuning_pod_memory = env_trait(
        Unicode("2Gi", help="Memory request and limit of a trial pod."), "MLP_TUNING_POD_MEMORY"
    )
    reports_index_url = env_trait(
        Unicode(
            "",
            help="Where the evaluation reports' search index lives: empty for a SQLite (FTS5) "
            "file in the state directory, or a PostgreSQL URL (full-text search; e.g. the "
            "database beside a cluster's MLflow backend). Example: c.MLPlat.reports_index_url "
            "= 'postgresql://mlflow:***@postgres:5432/mlplat'. Server side only.",
        ),
        "MLP_REPORTS_INDEX_URL",
    ).tag(server_only=True)
    search_index_url = env_trait(
        Unicode(
            "",
            help="Where the one search's index of MLflow runs, models and versions lives: empty "
            "for a SQLite (FTS5) file in the state directory, or a PostgreSQL URL. Server side "
            "only.",
        ),
        "MLP_SEARCH_INDEX_URL",
    ).tag(server_only=True)
    search_index_sync_seconds = env_trait(
        Float(
            2.0,
            help="How often the server brings the search index up to date with MLflow (0: the "
            "index is not kept and MLflow's own search answers).",
        ),
        "MLP_SEARCH_INDEX_SYNC_SECONDS",
    ).tag(server_only=True)
    search_index_reconcile_seconds = env_trait(
        Float(
            120.0,
            help="How often a sync also re-reads deleted runs and every model and version "
            "(deletions, and tags and aliases set on versions, which MLflow does not date).",
        ),
        "MLP_SEARCH_INDEX_RECONCILE_SECONDS",
    ).tag(server_only=True)
    reports_row_cap = env_trait(
        Int(100_000, help="Most holdout rows an evaluation reads from a table."),
        "MLP_REPORTS_ROW_CAP",
    )
    namespace = env_trait(
        Unicode("default", help="Kubernetes namespace of the user's resources."),
        "MLP_NAMESPACE",
    )
    lineage = env_trait(
        Bool(
            True,
            help="Record which catalog tables a run reads and writes through spark (kernels and "
            "pipeline tasks, while an MLflow run is active) as the run's datasets and as "
            "OpenLineage events.",
        ),
        "MLP_LINEAGE",
    )
    lineage_dir = env_trait(
        Unicode(
            "",
            help="Where OpenLineage run events are appended as JSON lines (one file per day); "
            "default: <state_dir>/lineage (the server passes the resolved folder to kernels).",
        ),
        "MLP_LINEAGE_DIR",
    )
    openlineage_url = env_trait(
        Unicode(
            "",
            help="OpenLineage HTTP endpoint the run events are also POSTed to (Marquez, DataHub). "
            "Example: c.MLPlat.openlineage_url = 'http://marquez:5000/api/v1/lineage'",
        ),
        "MLP_OPENLINEAGE_URL",
    )
    openlineage_namespace = env_trait(
        Unicode(
            "mlplat", help="OpenLineage namespace of the jobs and datasets this platform reports."
        ),
        "MLP_OPENLINEAGE_NAMESPACE",
    )
    lineage_recheck_seconds = env_trait(
        Int(
            60,
            help="Within one run, a table already recorded is re-digested after this many seconds "
            "(at once after this session writes it): repeated reads cost no Spark call.",
        ),
        "MLP_LINEAGE_RECHECK_SECONDS",
    )

    def __init__(self, env: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._apply_environment(os.environ if env is None else env, given=set(kwargs))

    # -- environment --------------------------------------------------------------------------
    def _apply_environment(self, env: Mapping[str, str], given: set[str]) -> None:
        """Fill what neither the Jupyter config nor the constructor (``given``) set."""
        configured = self.config.get(type(self).__name__, {})
        for name, trait in self.traits(env=bool).items():
            if name in configured or name in given:
                continue
            value = next((env[v] for v in trait.metadata["env"] if env.get(v)), None)
            if value is None:
                continue
            try:
                self.set_trait(name, _parse(trait, value))
            except Exception as err:
                var = next(v for v in trait.metadata["env"] if env.get(v))
                raise ValueError(f"{var}={value!r} is not valid for MLPlat.{name}: {err}") from err

    def to_environment(self, for_kernel: bool = False) -> dict[str, str]:
        """The ``MLP_*`` variables that reproduce this configuration in another process.

        ``for_kernel`` leaves out server-side settings (such as where the state is stored).
        """
        env = {}
        for name, trait in self.traits(env=bool).items():
            if for_kernel and trait.metadata.get("server_only"):
                continue
            value = getattr(self, name)
            var = trait.metadata["env"][0]
            env[var] = ",".join(value) if isinstance(value, list) else _format(value)
        return env

    def server_only_variables(self) -> set[str]:
        """Environment variables of settings that must not reach kernels."""
        return {
            var for trait in self.traits(server_only=True).values() for var in trait.metadata["env"]
        }

    # -- derived values -----------------------------------------------------------------------
    @property
    def resolved_user(self) -> str:
        """The user name, falling back to the operating-system account."""
        return self.user or getpass.getuser()

    @property
    def resolved_state_dir(self) -> Path:
        """The state directory, defaulting to ``~/.local/share/jupyter-mlplat``."""
        if self.state_dir:
            return Path(self.state_dir).expanduser()
        data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return Path(data_home) / "jupyter-mlplat"

    @property
    def resolved_tracking_admin_dir(self) -> Path:
        """Where the tracking server's admin credential is kept."""
        if self.tracking_admin_dir:
            return Path(self.tracking_admin_dir).expanduser()
        return self.resolved_state_dir / "mlflow" / "admin"

    @property
    def resolved_ui_url(self) -> str:
        """Where the MLflow UI is proxied from."""
        return (self.tracking_ui_url or self.tracking_uri).rstrip("/")

    @property
    def resolved_lineage_dir(self) -> Path:
        """Where OpenLineage events are written as JSON lines."""
        return (
            Path(self.lineage_dir).expanduser()
            if self.lineage_dir
            else (self.resolved_state_dir / "lineage")
        )

    @property
    def catalog_index_path(self) -> Path:
        """Where the server keeps its catalog search index."""
        return self.resolved_state_dir / "catalog" / "index.sqlite"

    @property
    def tuning_folder(self) -> Path:
        """Where tuning studies keep their journal files (and local workers their logs)."""
        if self.tuning_dir:
            return Path(self.tuning_dir).expanduser()
        return self.resolved_state_dir / "tuning"

    @property
    def reports_index_path(self) -> Path:
        """Where the server keeps its evaluation reports' SQLite index (beside the catalog's)."""
        return self.resolved_state_dir / "catalog" / "reports.sqlite"

    @property
    def search_index_path(self) -> Path:
        """Where the server keeps the one search's SQLite index (beside the catalog's)."""
        return self.resolved_state_dir / "catalog" / "search.sqlite"

    def experiment_for(self, notebook_path: str = "") -> str:
        """The default experiment for a kernel of ``notebook_path``."""
        path = Path(notebook_path) if notebook_path else None
        return self.experiment_name.format(
            user=self.resolved_user,
            notebook=path.stem if path else "default",
            notebook_dir=path.parent.name if path else "",
        ).replace("//", "/")

    def is_secret(self, variable: str) -> bool:
        """Whether an environment variable must never reach a kernel."""
        if variable in USER_CREDENTIAL_VARIABLES:
            return False
        return any(fnmatch.fnmatchcase(variable, p) for p in self.kernel_env_denylist)


#: Files that mark a project's root folder.
PROJECT_MARKERS = (".git", "pyproject.toml", "setup.cfg")


def project_folder(configured: str, start: str | Path | None = None) -> Path:
    """A project folder setting (suites, pipelines) resolved: itself if absolute; otherwise the
    nearest folder above ``start`` (default: the working directory) that already holds it, else
    the nearest project root (git work tree, pyproject.toml), else ``start``."""
    path = Path(configured).expanduser()
    if path.is_absolute():
        return path
    here = Path(start or os.getcwd()).resolve()
    folders = [here, *here.parents]
    for folder in folders:
        if (folder / path).is_dir():
            return folder / path
    for folder in folders:
        if any((folder / marker).exists() for marker in PROJECT_MARKERS):
            return folder / path
    return here / path


def _parse(trait: Any, value: str) -> Any:
    if isinstance(trait, List):
        items = [v.strip() for v in value.split(",") if v.strip()]
        return [trait._trait.from_string(v) for v in items] if trait._trait else items
    return trait.from_string(value)


def _format(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
