"""A real kernel, started by the real Jupyter server, logs to the real MLflow server."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import FAKE_SECRETS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def project(platform):
    """A git repository inside the lab's root, with one commit."""
    repo = platform.notebook_dir / "project"
    repo.mkdir(exist_ok=True)
    git = ["git", "-C", str(repo), "-c", "user.email=t@example.org", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "README.md").write_text("demo\n")
    subprocess.run([*git, "add", "README.md"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
    commit = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return repo, commit


@pytest.fixture(scope="module")
def kernel(lab, project):
    kernel_id = lab.start_session("project/train.ipynb")
    with lab.kernel(kernel_id) as connection:
        yield connection


def run_ok(kernel, code):
    result = kernel.execute(code)
    assert result.status == "ok", (result.stderr, result.error)
    return result


def test_log_param_with_no_setup_lands_in_platform_server(kernel, mlflow_client, project):
    repo, commit = project
    result = run_ok(
        kernel,
        'import mlflow\nmlflow.log_param("a", 1)\nmlflow.log_metric("x", 1.5)\n'
        "run_id = mlflow.active_run().info.run_id\nmlflow.end_run()\nprint(run_id)",
    )
    run = mlflow_client.get_run(result.stdout.strip().splitlines()[-1])
    assert run.data.params == {"a": "1"}
    assert run.data.metrics["x"] == 1.5
    tags = run.data.tags
    assert tags["mlflow.user"] == "ada"
    assert tags["mlplat.notebook.path"] == str(repo / "train.ipynb")
    assert tags["mlflow.source.type"] == "NOTEBOOK"
    assert tags["mlplat.server.host"]
    assert tags["mlflow.source.git.commit"] == commit
    experiment = mlflow_client.get_experiment(run.info.experiment_id)
    assert experiment.name == "/Users/ada"


def test_model_goes_through_the_artifact_proxy(kernel, mlflow_client, platform):
    result = run_ok(
        kernel,
        "import mlflow, mlflow.sklearn\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "mlflow.autolog(disable=True)\n"
        "model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])\n"
        "with mlflow.start_run() as run:\n"
        "    info = mlflow.sklearn.log_model(model, name='model')\n"
        "    mlflow.log_text('hello', 'notes/hello.txt')\n"
        "mlflow.autolog(disable=False)\n"
        "print(run.info.run_id, run.info.artifact_uri)",
    )
    run_id, artifact_uri = result.stdout.split()[-2:]
    assert artifact_uri.startswith("mlflow-artifacts:/")
    stored = list((platform.state_dir / "mlflow" / "artifacts").rglob("hello.txt"))
    assert stored and stored[0].read_text() == "hello"
    assert list((platform.state_dir / "mlflow" / "artifacts").rglob("MLmodel"))
    names = {a.path for a in mlflow_client.list_artifacts(run_id)}
    assert "notes" in names


def test_a_logged_model_records_no_platform_variable_as_used_in_inference(kernel):
    """While log_model validates the input example, MLflow records the variables read that
    look like credentials (``*API_TOKEN*``...) and warns. This model calls the tracking server
    as it predicts, as models that call a service do: an HTTP request reads every variable."""
    result = run_ok(
        kernel,
        "import logging, os, mlflow, pandas as pd, urllib.request\n"
        "class CallsAService(mlflow.pyfunc.PythonModel):\n"
        "    def predict(self, context, model_input, params=None):\n"
        "        urllib.request.urlopen(os.environ['MLFLOW_TRACKING_URI'] + '/health').read()\n"
        "        return model_input\n"
        "messages = []\n"
        "handler = logging.Handler()\n"
        "handler.emit = lambda record: messages.append(record.getMessage())\n"
        "logging.getLogger('mlflow').addHandler(handler)\n"
        "with mlflow.start_run():\n"
        "    info = mlflow.pyfunc.log_model(name='m', python_model=CallsAService(),\n"
        "                                   input_example=pd.DataFrame({'x': [1.0, 2.0]}))\n"
        "logging.getLogger('mlflow').removeHandler(handler)\n"
        "print('ENV_VARS', mlflow.models.Model.load(info.model_uri).env_vars)\n"
        "print('WARNED', [m for m in messages if 'used during model inference' in m])",
    )
    assert "ENV_VARS None" in result.stdout, result.stdout
    assert "WARNED []" in result.stdout, result.stdout


def test_kernel_environment_has_no_storage_location_or_credentials(kernel, platform):
    result = run_ok(kernel, "import os, json; print(json.dumps(dict(os.environ)))")
    import json

    env = json.loads(result.stdout)
    for name, value in FAKE_SECRETS.items():
        assert name not in env
        assert value not in result.stdout
    artifacts = str(platform.state_dir)
    assert not [k for k, v in env.items() if artifacts in v], "state dir leaked into the kernel"
    assert env["MLFLOW_TRACKING_URI"] == platform.tracking_uri
    assert env["MLFLOW_ENABLE_ASYNC_LOGGING"] == "true"


def test_rerunning_a_start_run_cell_never_fails(kernel):
    cell = "import mlflow\nrun = mlflow.start_run()\nmlflow.log_metric('m', 1)"
    first = run_ok(kernel, cell)
    second = run_ok(kernel, cell)
    assert "ended the still-active run" in second.stdout
    assert "already active" not in first.stderr + second.stderr
    run_ok(kernel, "mlflow.end_run()")


def test_autolog_is_on_without_importing_mlflow(lab, mlflow_client, project):
    with lab.kernel(lab.start_session("project/autolog.ipynb")) as fresh:
        run_ok(
            fresh,
            "from sklearn.linear_model import LinearRegression\n"
            "LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])",
        )
        run_ok(fresh, "import mlflow; mlflow.flush_async_logging()")
    experiment = mlflow_client.get_experiment_by_name("/Users/ada")
    runs = mlflow_client.search_runs(
        [experiment.experiment_id], "tags.`mlplat.notebook.path` LIKE '%autolog.ipynb'"
    )
    assert runs, "autolog created no run"
    assert runs[0].data.params.get("fit_intercept") == "True"


def test_mlp_status_shows_the_platform(kernel, platform):
    result = run_ok(kernel, "%mlp status")
    html = "".join(result.data("text/html"))
    assert platform.tracking_uri in html
    assert "/Users/ada" in html
    assert "storage credentials in kernel" in html


@pytest.mark.parametrize(
    "line", ["%mlp", "%mlp nonsense", "%mlp status extra", "%mlp status 'open"]
)
def test_malformed_mlp_lines_give_one_line_errors_and_the_kernel_lives(kernel, line):
    result = kernel.execute(line)
    assert result.status == "error"
    message = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(message) == 1 and message[0].startswith("UsageError: "), result.stderr
    assert "Traceback" not in result.stderr
    assert run_ok(kernel, "1 + 1").value == "2"
