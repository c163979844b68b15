"""The SLURM path on a real SLURM: a one-node cluster on 127.0.0.1 (tests/slurm/start-cluster.sh)
runs config/test.yaml's ACDC baseline and DMR U-Net (data, preprocessing, training, prediction,
metrics) through profiles/slurm-local, job by job through ``sbatch``, and must give the local
run's metric CSVs byte for byte; a training job cancelled with ``scancel`` is retried,
resumes from its checkpoint and still gives the uninterrupted run's weights and history (so its
predictions and metrics, which the first test checks on the cluster, cannot differ either).

Needs root and Debian's ``slurmctld slurmd slurm-client munge`` (installed here with apt-get when
missing); skipped, with the reason, where they cannot be had. Every daemon started is stopped by
its PID at the end, whatever the outcome.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from dmr.train.checkpoint import load_checkpoint
from dmr.train.config import TIMING_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "tests" / "slurm"
PROFILE = ROOT / "profiles" / "slurm-local"
TEST_CONFIG = ROOT / "config" / "test.yaml"
#: config/test.yaml's output folder.
RESULTS = yaml.safe_load(TEST_CONFIG.read_text())["results"]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]
PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
TOOLS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol")
#: start-cluster.sh's exit status for "this machine cannot run a cluster" (not root, no namespaces).
CANNOT_RUN_HERE = 3
#: Epochs of the training that is cancelled: long enough (~0.5 s each) to be caught running.
SLOW_EPOCHS = 12
#: The dataset and models the cluster builds: every rule up to the metrics, a baseline and a DMR
#: model, while the rest of the grid (the same rules with other wildcards) stays local.
SLURM_DATASET = "acdc"
SLURM_MODELS = ("unet-base", "unet-dmr")

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]


def _install_slurm() -> str | None:
    """Install the SLURM packages with apt-get when missing; the reason when that is impossible."""
    if all(shutil.which(tool) for tool in TOOLS):
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"SLURM is not installed and cannot be (needs root and apt-get for {PACKAGES})"
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", *PACKAGES]
    run = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
    if run.returncode != 0:  # a stale package list: update once, then try again
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, timeout=900)
        run = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
    if run.returncode != 0:
        return f"apt-get install {' '.join(PACKAGES)} failed: {run.stderr.strip()[-500:]}"
    return None


@dataclass(frozen=True)
class Cluster:
    """A running one-node test cluster: its folder and the environment that points at it."""

    root: Path
    env: dict[str, str]

    def jobs(self) -> list[dict[str, str]]:
        """Every job slurmctld still knows (finished ones for MinJobAge), as key=value fields."""
        out = subprocess.run(
            ["scontrol", "--oneliner", "show", "job"],
            capture_output=True,
            text=True,
            env=self.env,
            check=True,
        ).stdout
        jobs = []
        for line in out.splitlines():
            if line.startswith("JobId="):
                fields = re.findall(r"(\S+?)=(.*?)(?= \S+?=|$)", line)
                jobs.append({key: value.strip() for key, value in fields})
        return jobs


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    reason = _install_slurm()
    if reason is not None:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("slurm")
    start = subprocess.run(
        ["bash", str(SCRIPTS / "start-cluster.sh"), str(root)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    if start.returncode == CANNOT_RUN_HERE:
        pytest.skip(f"no SLURM cluster on this machine: {start.stderr.strip()}")
    assert start.returncode == 0, start.stdout + start.stderr
    pids = {p.name: int(p.read_text()) for p in (root / "pids").iterdir()}
    try:
        yield Cluster(root, os.environ | {"SLURM_CONF": str(root / "etc" / "slurm.conf")})
    finally:
        stop = subprocess.run(
            ["bash", str(SCRIPTS / "stop-cluster.sh"), str(root)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        alive = [name for name, pid in pids.items() if Path(f"/proc/{pid}").exists()]
        assert stop.returncode == 0 and not alive, f"daemons left running: {alive}\n{stop.stderr}"


def _config() -> dict:
    return yaml.safe_load(TEST_CONFIG.read_text())


def _metric_targets() -> list[str]:
    """The metric CSVs of SLURM_MODELS: all the SLURM run needs to build (no tables or figures,
    and not the whole grid, so that its time does not grow with the DAG: each SLURM job pays
    seconds of submission and polling)."""
    return [f"{RESULTS}/{SLURM_DATASET}/metrics/{m}.csv" for m in SLURM_MODELS]


def _run(args: list[str], workdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    run = subprocess.run(
        [*SNAKEMAKE, *args, "--directory", str(workdir)],
        capture_output=True,
        text=True,
        cwd=workdir,
        env=env,
        timeout=900,
    )
    if run.returncode != 0:
        logs = "\n".join(
            f"--- {p}\n{p.read_text()[-2000:]}"
            for p in sorted(workdir.glob(".snakemake/slurm_logs/**/*.log"))[-6:]
        )
        pytest.fail(f"snakemake {' '.join(args[:3])}... failed:\n{run.stderr[-6000:]}\n{logs}")
    return run


def _job_stats(output: str) -> Counter:
    """Snakemake's "Job stats" table (rule -> planned jobs) from its output."""
    table = output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    rows = (line.split() for line in table.splitlines()[3:])
    return Counter({r[0]: int(r[1]) for r in rows if len(r) == 2 and r[0] != "total"})


def _rule(job: dict[str, str]) -> str:
    """The rule of a job the executor plugin submitted (its comment: rule_<name>_wildcards_...)."""
    return job["Comment"].removeprefix("rule_").split("_wildcards_")[0]


def _metric_files(workdir: Path, dataset: str) -> dict[str, bytes]:
    folder = workdir / RESULTS / dataset / "metrics"
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.csv")}


@pytest.fixture(scope="module")
def slurm_run(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """config/test.yaml's metric CSVs built on the cluster: the work folder, Snakemake's output."""
    workdir = tmp_path_factory.mktemp("slurm_run")
    targets = _metric_targets()
    run = _run(
        [*targets, "--profile", str(PROFILE), "--configfile", str(TEST_CONFIG)],
        workdir,
        cluster.env,
    )
    return workdir, run.stdout + run.stderr


def test_every_job_goes_through_sbatch_and_training_asks_for_a_gpu(
    cluster: Cluster, slurm_run: tuple[Path, str]
) -> None:
    _, output = slurm_run
    run_id = re.search(r"SLURM run ID: (\S+)", output).group(1)
    jobs = [j for j in cluster.jobs() if j["JobName"] == run_id]
    planned = _job_stats(output)
    config = _config()
    folds = config["datasets"][SLURM_DATASET]["folds"]["k"]
    assert planned["train"] == folds * len(SLURM_MODELS)
    # Each planned job (rule + wildcards, the plugin's job comment) completed as a SLURM job: none
    # ran outside SLURM. A failed attempt that was retried would be a second SLURM job.
    completed = {j["Comment"]: j for j in jobs if j["JobState"] == "COMPLETED"}
    assert Counter(_rule(j) for j in completed.values()) == planned
    assert output.count("has been submitted with SLURM jobid") == len(jobs) >= planned.total()
    for job in jobs:
        gpus = job.get("TresPerJob", "")
        assert ("gpu:1" in gpus) == (_rule(job) == "train"), (job["Comment"], gpus)


def test_metrics_are_byte_identical_to_the_local_run(
    slurm_run: tuple[Path, str], test_run: Path
) -> None:
    workdir, _ = slurm_run
    on_slurm = _metric_files(workdir, SLURM_DATASET)
    local = _metric_files(test_run, SLURM_DATASET)
    # metrics, slices/ and clinical/ of each model
    assert len(on_slurm) == 3 * len(SLURM_MODELS)
    different = [name for name in on_slurm if on_slurm[name] != local[name]]
    assert not different, f"metric CSVs differ from the local run: {different}"


def _slow_config(tmp_path: Path) -> Path:
    config = _config()
    config["datasets"]["acdc"]["training"]["epochs"] = SLOW_EPOCHS
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _cancel_when_first_epoch_is_saved(cluster: Cluster, workdir: Path, proc) -> str:
    """scancel the fold-0 training job as soon as it has written its first resume checkpoint."""
    checkpoint = workdir / RESULTS / "acdc/ckpt/unet-base/fold0/last.pt"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, "snakemake ended before the training could be cancelled"
        running = [
            j
            for j in cluster.jobs()
            if j["Comment"] == "rule_train_wildcards_acdc_unet-base_0"
            and j["JobState"] == "RUNNING"
        ]
        if running and checkpoint.exists():
            job_id = running[0]["JobId"]
            subprocess.run(["scancel", job_id], env=cluster.env, check=True)
            return job_id
        time.sleep(0.2)
    pytest.fail("the fold-0 training job never ran long enough to be cancelled")


def _start(args: list[str], workdir: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            [*SNAKEMAKE, *args, "--directory", str(workdir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
        )


def test_cancelled_training_resumes_from_its_checkpoint(
    cluster: Cluster, slurm_run: tuple[Path, str], test_run: Path, tmp_path: Path
) -> None:
    workdir, _ = slurm_run
    slow = _slow_config(tmp_path)
    # The trained models only: prediction and scoring of a model are deterministic and already
    # checked on the cluster above, and each further level of the DAG costs ~14 s of polling.
    # Fold 0 alone: the cancelled job. An uninterrupted SLURM training equal to the local one is
    # what the first test's byte-identical metrics already show.
    models = [f"{RESULTS}/acdc/models/unet-base/fold0"]
    targets = [f"{model}/model.pt" for model in models]
    args = [*targets, "--forcerun", "train", "--configfile", str(slow)]
    # Retrain acdc's unet-base (fold 0) for SLOW_EPOCHS from scratch on the cluster, and, at the
    # same time (the cluster run mostly waits), without interruption in a copy of the local run.
    local = tmp_path / "local"
    shutil.copytree(test_run, local, symlinks=True)
    for folder in (workdir, local):
        shutil.rmtree(folder / RESULTS / "acdc/ckpt/unet-base")
    logs = {"slurm": tmp_path / "slurm.log", "local": tmp_path / "local.log"}
    procs = {
        "local": _start([*args, "--cores", "2"], local, dict(os.environ), logs["local"]),
        "slurm": _start([*args, "--profile", str(PROFILE)], workdir, cluster.env, logs["slurm"]),
    }
    try:
        cancelled = _cancel_when_first_epoch_is_saved(cluster, workdir, procs["slurm"])
        for proc in procs.values():
            proc.wait(timeout=900)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=60)
    for name, proc in procs.items():
        assert proc.returncode == 0, f"{name} run failed:\n{logs[name].read_text()[-6000:]}"

    # The cancelled job failed, its retry (a new sbatch job) resumed from the checkpoint ...
    fold0 = [j for j in cluster.jobs() if j["Comment"] == "rule_train_wildcards_acdc_unet-base_0"]
    states = {j["JobId"]: j["JobState"] for j in fold0}
    assert states[cancelled] == "CANCELLED"
    assert [s for i, s in states.items() if int(i) > int(cancelled)] == ["COMPLETED"]
    train_log = (workdir / RESULTS / "logs/acdc/train/unet-base_fold0.log").read_text()
    resumed = re.search(r"resuming from \S+/fold0/last\.pt after epoch (\d+)", train_log)
    assert resumed, train_log[-3000:]
    assert 1 <= int(resumed.group(1)) < SLOW_EPOCHS

    # ... and its weights and history are those of the uninterrupted run.
    for model in models:
        _assert_same_model(workdir / model, local / model)


def _assert_same_model(on_slurm: Path, uninterrupted: Path) -> None:
    """The same weights, tensor for tensor, and the same history (its timings aside)."""
    weights = [
        load_checkpoint(folder / "model.pt")["state_dict"] for folder in (on_slurm, uninterrupted)
    ]
    # Exact (rtol = atol = 0), over the same keys; a mismatch names the tensor.
    torch.testing.assert_close(
        weights[0], weights[1], rtol=0, atol=0, msg=lambda detail: f"{on_slurm}: {detail}"
    )
    history = [pd.read_csv(folder / "history.csv") for folder in (on_slurm, uninterrupted)]
    assert len(history[0]) == SLOW_EPOCHS
    pd.testing.assert_frame_equal(
        history[0].drop(columns=list(TIMING_COLUMNS)),
        history[1].drop(columns=list(TIMING_COLUMNS)),
    )
