"""Helpers of the service tests (tests/bad_inputs/test_services*.py): a port nothing listens on, ``ecglab``
run in this process, and the one-line error a refused command prints."""

from __future__ import annotations

import socket

import pytest

from ecglab.bench.cli import main

PASSWORD = "s3cret-Pw-7781"  # in storage and tracking URLs of the tests: must never be printed


def free_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``ecglab ARGV`` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def one_line_error(status: int, err: str) -> str:
    """The one ``ecglab: error:`` line of a refused command (exit 2, no traceback)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2 and "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("ecglab: error: "), err
    return lines[0]
