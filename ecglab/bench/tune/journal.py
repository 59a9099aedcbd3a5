"""A study on a journal file that workers share without a database server (a folder every worker sees,
e.g. on NFS): Optuna's JournalStorage on a JournalFileBackend, with the heartbeat RDB storages have.

Optuna's JournalStorage has no heartbeat of its own, so a killed worker's trial would stay RUNNING forever.
Here each running trial records its heartbeat (the wall-clock time, as the trial system attribute
:data:`HEARTBEAT_ATTR`) every ``heartbeat_interval`` seconds, and a RUNNING trial whose last heartbeat and
start are both older than ``grace_period`` is stale: Optuna fails it and its retry callback
queues it again. Workers on different machines compare their own clocks with the recorded times, so keep
their clocks in sync (NTP) well within the grace period.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.trial import TrialState

HEARTBEAT_ATTR = "ecglab:heartbeat"


class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    """JournalStorage with heartbeats: stale running trials are failed (and retried) by Optuna."""

    def __init__(
        self,
        backend: Any,
        heartbeat_interval: int,
        grace_period: int,
        stale_callback: Callable[[optuna.Study, Any], None] | None,
    ) -> None:
        super().__init__(backend)
        self._heartbeat_interval = heartbeat_interval
        self._grace_period = grace_period
        self._stale_callback = stale_callback

    def record_heartbeat(self, trial_id: int) -> None:
        """The trial's heartbeat: now (a trial that ended meanwhile is left alone)."""
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        now = time.time()
        stale = []
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            times = [float(trial.system_attrs.get(HEARTBEAT_ATTR, 0.0))]  # a retry inherits an old one
            if trial.datetime_start is not None:
                times.append(trial.datetime_start.timestamp())
            if now - max(times) > self._grace_period:
                stale.append(trial._trial_id)
        return stale

    def get_heartbeat_interval(self) -> int | None:
        return self._heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> Callable[[optuna.Study, Any], None] | None:
        return self._stale_callback

    def get_failed_trial_callback(self) -> Callable[[optuna.Study, Any], None] | None:
        """The name Optuna before 4.9 asks for."""
        return self._stale_callback


def heartbeat_journal(
    path: Path,
    heartbeat_interval: int,
    grace_period: int,
    stale_callback: Callable[[optuna.Study, Any], None] | None,
) -> HeartbeatJournalStorage:
    """The journal storage on file ``path`` (created when missing), with heartbeats."""
    from optuna.storages.journal import JournalFileBackend

    return HeartbeatJournalStorage(
        JournalFileBackend(str(path)), heartbeat_interval, grace_period, stale_callback
    )
