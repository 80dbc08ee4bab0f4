"""Building the local model servers' environment reports its progress as it goes."""

from __future__ import annotations

import pytest

from jupyter_mlplat.deploy.local import ENV_MARKER, LOCK_FILE, ServingEnvironment

pytestmark = pytest.mark.integration


def test_build_reports_uv_phases_then_the_share_compiled(tmp_path):
    # two small packages of the serving lock, at its versions (uv's cache has them)
    wanted = ("click==", "itsdangerous==")
    pins = [line for line in LOCK_FILE.read_text().splitlines() if line.startswith(wanted)]
    assert len(pins) == 2
    lock = tmp_path / "requirements.txt"
    lock.write_text("\n".join(pins) + "\n")
    events: list[tuple[str, float]] = []
    env = ServingEnvironment(tmp_path / "env", lock=lock)
    env.ensure(lambda step, fraction: events.append((step, fraction)))

    assert (env.path / ENV_MARKER).read_text() == env.lock_hash()
    steps = [step.split(": ", 1)[1] for step, _ in events]
    assert steps[0] == "creating it" and steps[-1] == "ready"
    assert "resolved 2 packages; downloading" in steps
    assert "installed 2 packages; compiling bytecode" in steps
    fractions = [fraction for _, fraction in events]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(step.startswith("building the serving environment") for step, _ in events)


def test_a_failed_build_says_why_in_one_line_and_leaves_nothing(tmp_path):
    from jupyter_mlplat.errors import Unavailable

    lock = tmp_path / "requirements.txt"
    lock.write_text("this-package-does-not-exist-mlplat==0.0.1\n")
    env = ServingEnvironment(tmp_path / "env", lock=lock)
    with pytest.raises(Unavailable, match="cannot build the serving environment") as err:
        env.ensure()
    assert "\n" not in str(err.value)
    assert not env.path.exists()
