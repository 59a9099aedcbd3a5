"""Logs fit where they go: a live bar only on a terminal; written to a file, one line per finished stage or
epoch and never a carriage return; ``--quiet`` silences the progress altogether."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from tiny_task_specs import tiny_task_specs
from tqdm import tqdm

from ecglab.bench.cli import main
from ecglab.progress import StageLine, progress_bar, write


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_bar_on_a_terminal_one_line_elsewhere_nothing_when_disabled() -> None:
    terminal = Terminal()
    bar = progress_bar(range(3), desc="scoring test", unit="batch", stream=terminal)
    assert isinstance(bar, tqdm) and list(bar) == [0, 1, 2]
    assert "\r" in terminal.getvalue()

    log = io.StringIO()
    assert list(progress_bar(range(3), desc="scoring test", unit="batch", stream=log)) == [0, 1, 2]
    lines = log.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scoring test: 3 batches in ") and lines[0].endswith(" s")

    log = io.StringIO()
    stage = progress_bar(desc="ingest", total=659, initial=300, unit="record", stream=log)
    assert isinstance(stage, StageLine)
    stage.update(359)
    stage.set_postfix(loss="0.1")
    stage.close()
    stage.close()  # once only
    assert log.getvalue().startswith("ingest: 659 records in ") and log.getvalue().count("\n") == 1

    log = io.StringIO()
    cut = progress_bar(desc="ingest", total=10, unit="patient", stream=log)
    cut.update(4)
    cut.close()
    assert log.getvalue() == ""  # cut short (an error): the error is the one line

    for options in ({"enabled": False}, {"line": False}):
        for stream in (Terminal(), io.StringIO()):
            bar = progress_bar(range(2), desc="epoch 1/3", stream=stream, **options)
            assert list(bar) == [0, 1]
            if isinstance(stream, Terminal) and options.get("line") is False:
                assert "epoch 1/3" in stream.getvalue()  # line=False still shows the bar on a terminal
            else:
                assert stream.getvalue() == ""


def test_write_prints_a_plain_line_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    write("epoch 1/2: train loss 0.5")
    assert capsys.readouterr().out == "epoch 1/2: train loss 0.5\n"


def test_a_tiny_training_logged_to_a_file_is_a_few_lines(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """capfd: standard output and error are files here, as in ``ecglab train ... > log 2>&1``."""
    spec = tmp_path / "tasks.yaml"
    spec.write_text(tiny_task_specs("name: log_closest_15min"))
    store, runs = str(tmp_path / "store"), str(tmp_path / "runs")
    synth = ["cohort", "synth", "--out", store, "--patients", "24", "--bout-minutes", "0.3", "0.6"]
    synth += ["--workers", "1"]
    train = ["train", "--backbone", "ecgfounder", "--task", "log_closest_15min", "--task-spec", str(spec)]
    train += ["--cohort", store, "--epochs", "2", "--patience", "9", "--n-boot", "20", "--no-track"]
    assert main(synth) == 0
    assert main([*train, "--runs-dir", runs]) == 0
    loud = capfd.readouterr()
    text = loud.out + loud.err
    assert "\r" not in text and len(text.encode()) < 4096, text
    lines = text.splitlines()
    assert any(line.startswith("ingest: 24 patients in ") for line in lines), text
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epochs] == ["epoch 1/2", "epoch 2/2"], text
    assert all("train loss" in line and "val macro AUROC" in line for line in epochs)
    assert any(line.startswith("scoring test: ") and " batch" in line for line in lines), text

    run_dir = next(Path(runs).iterdir())
    assert main(["evaluate", str(run_dir), "--quiet"]) == 0
    quiet = capfd.readouterr()
    assert not any(word in quiet.out + quiet.err for word in ("ingest:", "epoch ", "scoring ", "\r")), quiet
    assert "test macro AUROC" in quiet.out  # the result is the answer, not progress: it stays
