"""Workers sharing a suite: claim files (exclusive, heartbeat, expiry, one taker of an expired claim), shards
and device lists, two workers on one runs folder running every pairing once, and a killed worker whose
pairing another worker completes once its claim expires."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from suite_fixtures import forecast_task_yaml

from ecglab.bench.cli import main
from ecglab.bench.run_folder import read_record
from ecglab.bench.suite import (
    Claim,
    Held,
    SuiteError,
    acquire,
    claim_file,
    load_suite,
    parse_devices,
    parse_shard,
    run_suite,
    shard_of,
)
from ecglab.bench.suite import workers as workers_module
from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort

TASKS = forecast_task_yaml("workers_forecast_60min")
TABULAR = [
    {"name": "tabular", "preset": "tiny"},
    {"name": "tabular", "preset": "tiny", "label": "c01", "options": {"c": 0.1}},
]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("workers")
    config = SynthConfig(n_patients=60, seed=5, bout_minutes=(1.5, 3.0))
    build_synthetic_cohort(root / "cohort", config, workers=2, progress=False)
    (root / "tasks.yaml").write_text(TASKS)
    return root


def write_suite(root: Path, name: str, backbones: list[dict], seeds: list[int]) -> Path:
    data = {
        "name": name,
        "cohort": "cohort",
        "task_specs": ["tasks.yaml"],
        "tasks": ["workers_forecast_60min"],
        "seeds": seeds,
        "runs_dir": f"runs_{name}",
        "run": {"n_boot": 20, "epochs": 1},
        "backbones": backbones,
    }
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def foreign_claim(path: Path, age: float, host: str = "elsewhere", pid: int = 4242, pidns: str = "") -> None:
    """A claim file as a worker of another machine (or a given pid here) leaves it, heartbeat ``age`` ago."""
    holder = {
        "host": host,
        "pid": pid,
        "started": time.time() - age,
        "token": f"t{pid}{host}",
        "pidns": pidns,
    }
    path.write_text(json.dumps(holder))
    os.utime(path, (time.time() - age, time.time() - age))


# ------------------------------------------------------------------------------------------------ claims
def test_a_claim_is_exclusive_until_released(tmp_path: Path) -> None:
    path = claim_file(tmp_path / "0123456789abcdef")
    assert path == tmp_path / "0123456789abcdef.claim"
    first = acquire(path, timeout=60)
    assert isinstance(first, Claim)
    second = acquire(path, timeout=60)
    assert isinstance(second, Held) and second.holder.pid == os.getpid()
    assert f"pid {os.getpid()}" in second.describe() and "heartbeat 0 s ago" in second.describe()
    first.release()
    assert not path.exists()
    third = acquire(path, timeout=60)
    assert isinstance(third, Claim)
    third.release()


def test_a_heartbeat_keeps_a_claim_alive(tmp_path: Path) -> None:
    path = tmp_path / "a.claim"
    claim = acquire(path, timeout=1.0, interval=0.05)
    assert isinstance(claim, Claim)
    with claim:
        old = time.time() - 30
        os.utime(path, (old, old))  # as if the worker had been silent for 30 s
        time.sleep(0.3)
        assert time.time() - path.stat().st_mtime < 1.0  # the heartbeat refreshed it
        assert isinstance(acquire(path, timeout=1.0), Held)
    assert not path.exists() and not claim.lost


def test_an_expired_claim_is_taken_over_and_a_fresh_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "b.claim"
    foreign_claim(path, age=5)
    held = acquire(path, timeout=60)
    assert isinstance(held, Held) and "held by elsewhere pid 4242" in held.describe()
    taken = acquire(path, timeout=2)
    assert isinstance(taken, Claim)
    assert json.loads(path.read_text())["pid"] == os.getpid()
    taken.release()
    assert sorted(tmp_path.iterdir()) == []  # claim and takeover marker gone

    ghost = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    here = acquire(path, timeout=60)
    here.release()
    # a fresh claim, but of a process of this host that has ended: taken over at once
    foreign_claim(path, age=0, host=socket.gethostname(), pid=int(ghost.stdout), pidns=here.holder.pidns)
    again = acquire(path, timeout=3600)
    assert isinstance(again, Claim)
    again.release()


def test_two_takers_of_an_expired_claim_cannot_both_win(tmp_path: Path) -> None:
    for round_ in range(10):
        path = tmp_path / f"c{round_}.claim"
        foreign_claim(path, age=100, pid=round_ + 1)
        barrier = threading.Barrier(6)
        won: list[object] = []

        def take(path: Path = path, barrier: threading.Barrier = barrier, won: list[object] = won) -> None:
            barrier.wait()
            won.append(acquire(path, timeout=10))

        threads = [threading.Thread(target=take) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(isinstance(w, Claim) for w in won) == 1, won
        token = json.loads(path.read_text())["token"]
        assert [w.holder.token for w in won if isinstance(w, Claim)] == [token]


# ---------------------------------------------------------------------------------------- shards, devices
def test_shards_split_the_pairings_and_bad_values_are_one_line_errors(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert parse_shard("3/8") == (3, 8) and parse_shard("1/1") == (1, 1)
    items = list(range(11))
    shares = [shard_of(items, (i, 4)) for i in range(1, 5)]
    assert shares[0] == [0, 4, 8] and sorted(k for share in shares for k in share) == items
    for bad in ("0/8", "9/8", "a/b", "3", "1/0"):
        with pytest.raises(SuiteError, match="expected I/N"):
            parse_shard(bad)
    assert parse_devices("0,1,2,3") == ["0", "1", "2", "3"]
    for bad, message in (("0,,1", "expected comma-separated"), ("0,1,0", "listed twice: 0")):
        with pytest.raises(SuiteError, match=message):
            parse_devices(bad)

    path = write_suite(root, "shards", TABULAR, seeds=[0, 1])
    assert main(["run", str(path), "--shard", "0/8", "--no-track"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ecglab: error: --shard 0/8: expected I/N") and err.count("\n") == 1
    assert main(["run", str(path), "--gpus", "0,1", "--force", "--no-track"]) == 2
    assert "--force with --gpus" in capsys.readouterr().err
    report = run_suite(load_suite(path), track=False, progress=False, out=lambda line: None, shard=(2, 3))
    assert [o.pairing for o in report.outcomes] == ["tabular/workers_forecast_60min/seed1"]
    assert report.suite == "shards (shard 2/3)" and report.ok


def test_each_device_worker_gets_its_own_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[list[str], str]] = []
    real = subprocess.Popen

    def fake(argv: list[str], env: dict[str, str], **kwargs: object) -> subprocess.Popen:
        seen.append((argv[1:4], env["CUDA_VISIBLE_DEVICES"]))
        return real([sys.executable, "-c", f"print('hello'); raise SystemExit({len(seen) - 1})"], **kwargs)

    monkeypatch.setattr(workers_module.subprocess, "Popen", fake)
    lines: list[str] = []
    results = workers_module.run_workers(["run", "x.yaml"], ["a", "b"], out=lines.append)
    assert seen == [(["-m", "ecglab.bench.cli", "run"], "a"), (["-m", "ecglab.bench.cli", "run"], "b")]
    assert [(r.device, r.returncode) for r in results] == [("a", 0), ("b", 1)]
    assert sorted(lines) == ["[gpu a] hello", "[gpu b] hello"]


# ------------------------------------------------------------------------------------------ two workers
def test_two_workers_on_one_runs_folder_run_every_pairing_once(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_suite(root, "shared", TABULAR, seeds=[0, 1])
    assert main(["run", str(path), "--gpus", "a,b", "--no-track"]) == 0
    out = capsys.readouterr().out
    assert "shared: 2 workers: gpu a: ok, gpu b: ok" in out
    assert "[gpu a] " in out and "[gpu b] " in out
    started = re.findall(r"^\[gpu [ab]\] \[\d/4\] (\S+): running \(", out, re.M)
    assert len(started) == 4 and len(set(started)) == 4, out  # each pairing started by exactly one worker
    runs_dir = root / "runs_shared"
    records = [read_record(p.parent) for p in runs_dir.glob("*/run.json")]
    assert len(records) == 4 and all(r.finished for r in records)
    assert not list(runs_dir.glob("*.claim*"))  # every claim released


# ---------------------------------------------------------------------------------------- a killed worker
STUCK = """
import sys, time
from ecglab.bench.engine import run as engine_run
engine_run.baseline_scores = lambda *a: time.sleep(3600)  # the pairing never ends
from ecglab.bench.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_killed_workers_claim_expires_and_another_worker_completes_its_pairing(root: Path) -> None:
    path = write_suite(root, "killed", TABULAR[:1], seeds=[0, 1])
    runs_dir = root / "runs_killed"
    worker = subprocess.Popen([sys.executable, "-c", STUCK, "run", str(path), "--no-track", "--quiet"])
    try:
        deadline = time.monotonic() + 60
        while not list(runs_dir.glob("*.claim")) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    [claim] = list(runs_dir.glob("*.claim"))  # left behind by the killed worker
    data = json.loads(claim.read_text())
    data["host"] = "another-machine"  # as if it had run elsewhere: only its heartbeat's age tells
    claim.write_text(json.dumps(data))

    suite = load_suite(path)
    report = run_suite(suite, track=False, progress=False, out=lambda line: None, claim_timeout=60)
    assert [o.status for o in report.outcomes] == ["held", "finished"]
    assert "HELD by another worker tabular/workers_forecast_60min/seed0: held by another-machine" in (
        report.table()
    )

    old = time.time() - 120  # two minutes without a heartbeat: expired
    os.utime(claim, (old, old))
    report = run_suite(suite, track=False, progress=False, out=lambda line: None, claim_timeout=60)
    assert [o.status for o in report.outcomes] == ["finished", "skipped"] and report.ok
    assert not list(runs_dir.glob("*.claim*"))
    assert all(read_record(p.parent).finished for p in runs_dir.glob("*/run.json"))
