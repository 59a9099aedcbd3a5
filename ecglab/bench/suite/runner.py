"""Running a suite: its pairings (those ``--only`` selects) in order with the engine, and the report.

:func:`run_suite` runs the pairings in file order (backbones, then tasks, then seeds):

- a pairing whose run id (a hash of its configuration, task version and cohort) already has a finished run
  folder is skipped (``--force`` reruns it); when tracking, it is still logged to MLflow, which is idempotent,
  so a rerun completes the tracking of runs whose logging failed earlier;
- a failed run is never reused: it is rerun from scratch; an interrupted one (Ctrl-C, a killed process)
  continues from its last epoch checkpoint, exactly (the engine's resume);
- a failing pairing is reported and the suite goes on; the report lists every failure at the end;
- tracking is a view: a pairing that finished but could not be logged (MLflow down: its retries are bounded
  to ~30 s) still counts as finished, and once tracking failed the suite stops trying it for the remaining
  pairings; the report says how to log them later (run the suite again, or ``ecglab track RUN``). Row-level
  files (predictions with patient and anchor ids) go to MLflow only with ``log_row_level``.

Any number of workers may share a runs folder (``--shard I/N`` gives each a share, :mod:`workers`): a
worker claims a pairing before starting it (:mod:`ecglab.bench.suite.claims`), so none starts a pairing
another has finished or is running; the report lists those held by another worker. Under ``torchrun`` each
pairing trains with DistributedDataParallel and rank 0 reports and tracks; there, claims are off (every rank
must run the same pairings): give concurrent ``torchrun`` jobs disjoint shards.
"""

from __future__ import annotations

import fnmatch
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ecglab.bench.config import launched_world_size, run_id
from ecglab.bench.run_folder import RunRecord, RunRecordError, is_run_folder, read_record, run_folder
from ecglab.bench.suite.claims import DEFAULT_TIMEOUT, Held, acquire, claim_file
from ecglab.bench.suite.external_runs import evaluate_externals, external_problems
from ecglab.bench.suite.schema import Pairing, Suite, SuiteError, unset_vars
from ecglab.bench.suite.workers import shard_of
from ecglab.errors import EcglabError


# ------------------------------------------------------------------------------------------- selection
def check_paths(suite: Suite, pairings: Iterable[Pairing] | None = None) -> None:
    """Refuse, before anything runs, a cohort or checkpoint file that does not exist (placeholders left as
    they were shipped, unset variables)."""
    problems = []
    if not Path(suite.cohort).is_dir():
        problems.append(
            f"cohort {suite.cohort} does not exist{unset_vars(suite.cohort)}: edit `cohort:` to the "
            "folder of a cohort store (`ecglab cohort ...` builds one)"
        )
    seen = set()
    for pairing in suite.pairings() if pairings is None else pairings:
        checkpoint = pairing.config.checkpoint
        if checkpoint and checkpoint not in seen and not Path(checkpoint).is_file():
            seen.add(checkpoint)
            problems.append(
                f"{pairing.backbone_id}: checkpoint {checkpoint} does not exist{unset_vars(checkpoint)}: "
                "edit `checkpoint:` to the weights file you downloaded (ecglab never downloads weights)"
            )
    problems += external_problems(suite.external)
    if problems:
        raise SuiteError(f"{suite.source}: " + "; ".join(problems))


def select(pairings: Sequence[Pairing], patterns: Sequence[str]) -> list[Pairing]:
    """Pairings whose name ``BACKBONE/TASK/seedN`` matches any shell-style pattern; a pattern without '/' is
    also matched against the backbone (its name or name:label) and the task on their own."""
    if not patterns:
        return list(pairings)

    def matches(pairing: Pairing, pattern: str) -> bool:
        if fnmatch.fnmatchcase(pairing.name, pattern):
            return True
        if "/" in pattern:
            return False
        backbone, task, _ = pairing.name.split("/")
        return any(fnmatch.fnmatchcase(part, pattern) for part in (backbone, backbone.split(":")[0], task))

    chosen = [p for p in pairings if any(matches(p, pattern) for pattern in patterns)]
    if not chosen:
        names = ", ".join(p.name for p in pairings[:6]) + (", ..." if len(pairings) > 6 else "")
        raise SuiteError(f"--only {' '.join(patterns)} matches no pairing (pairings: {names})")
    return chosen


# ------------------------------------------------------------------------------------------------ report
@dataclass
class Outcome:
    pairing: str
    status: str  # finished | skipped | held (by another worker) | failed | not run
    run_dir: Path | None = None
    test_macro_auroc: float = float("nan")
    seconds: float = float("nan")
    error: str = ""
    tracking_error: str = ""


@dataclass
class SuiteReport:
    suite: str
    outcomes: list[Outcome]

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def untracked(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.tracking_error]

    @property
    def ok(self) -> bool:
        """Every selected pairing finished or was skipped (tracking failures are warnings only)."""
        return not self.failed and self.count("not run") == 0

    def table(self) -> str:
        width = max([len("pairing"), *(len(o.pairing) for o in self.outcomes)])
        lines = [f"{'pairing':{width}s}  {'status':9s}  {'test macro AUROC':>16s}  {'seconds':>8s}"]
        for o in self.outcomes:
            auroc = f"{o.test_macro_auroc:.3f}" if o.test_macro_auroc == o.test_macro_auroc else "-"
            seconds = f"{o.seconds:.1f}" if o.seconds == o.seconds else "-"
            status = o.status + ("*" if o.tracking_error else "")
            lines.append(f"{o.pairing:{width}s}  {status:9s}  {auroc:>16s}  {seconds:>8s}")
        counts = ", ".join(
            f"{self.count(s)} {s}"
            for s in ("finished", "skipped", "held", "failed", "not run")
            if self.count(s)
        )
        lines.append(f"{self.suite}: {len(self.outcomes)} pairings: {counts or 'none to run'}")
        if self.untracked:
            lines.append(
                f"* warning: {len(self.untracked)} finished but not logged to MLflow (their result files "
                "are complete): run the suite again once MLflow is up (finished pairings are skipped and "
                "logged), or log each with `ecglab track RUN`; "
                + "; ".join(f"{o.pairing}: {o.tracking_error}" for o in self.untracked)
            )
        for o in self.outcomes:
            if o.status == "held":
                lines.append(f"HELD by another worker {o.pairing}: {o.error}")
        for o in self.failed:
            lines.append(f"FAILED {o.pairing}: {o.error}")
        return "\n".join(lines)


def macro_test_auroc(run_dir: Path) -> float:
    """The mean test AUROC over the run's targets (NaN targets left out)."""
    import pandas as pd

    try:
        results = pd.read_parquet(run_dir / "results.parquet", columns=["split", "auroc"])
    except (OSError, ValueError):
        return float("nan")
    values = results.loc[results["split"] == "test", "auroc"].astype("float64").dropna()
    return float(values.mean()) if len(values) else float("nan")


# ------------------------------------------------------------------------------------------------ running
@dataclass(frozen=True)
class _Session:
    """What every pairing of one :func:`run_suite` call shares."""

    suite: Suite
    runs_dir: Path
    cohort_hash: str
    force: bool
    progress: bool
    out: Callable[[str], None]
    uri: str | None  # the MLflow tracking URI; None: no tracking
    claim_timeout: float | None  # seconds a claim lives without a heartbeat; None: no claims (torchrun)
    row_level: bool = False  # also log predictions (patient and anchor ids) to MLflow
    tracking_failed: list[str] = field(default_factory=list)  # the first failure: later pairings skip MLflow


def _silent(line: str) -> None:
    pass


def run_suite(
    suite: Suite,
    *,
    runs_dir: str | Path | None = None,
    tracking_uri: str | None = None,
    track: bool = True,
    force: bool = False,
    only: Sequence[str] = (),
    progress: bool = True,
    out: Callable[[str], None] = print,
    shard: tuple[int, int] | None = None,
    claim_timeout: float = DEFAULT_TIMEOUT,
    log_row_level: bool = False,
) -> SuiteReport:
    """Run the suite's pairings (those matching ``only``; of those, shard I of N's share) in order and return
    the report; a failing pairing does not stop the others, one another worker holds is left to it. On
    Ctrl-C the report so far is printed and KeyboardInterrupt re-raised. ``log_row_level`` also logs each
    run's predictions (patient and anchor ids, per-row scores) to MLflow."""
    from ecglab.cohort.store import open_cohort
    from ecglab.tasks.registry import register_spec_file

    pairings = shard_of(select(suite.pairings(), only), shard)
    check_paths(suite, pairings)
    for file in suite.task_specs:
        register_spec_file(file)
    cohort = open_cohort(suite.cohort)
    main = int(os.environ.get("RANK", "0")) == 0  # under torchrun: rank 0 reports and tracks
    session = _Session(
        suite=suite,
        runs_dir=Path(runs_dir if runs_dir is not None else suite.runs_dir),
        cohort_hash=cohort.content_hash,
        force=force,
        progress=progress,
        out=out if main else _silent,
        uri=_tracking_uri(tracking_uri, suite.experiment) if track and main else None,
        claim_timeout=claim_timeout if launched_world_size() <= 1 else None,
        row_level=log_row_level,
    )
    outcomes = [Outcome(p.name, "not run") for p in pairings]
    name = suite.name + (f" (shard {shard[0]}/{shard[1]})" if shard else "")
    report = SuiteReport(name, outcomes)
    try:
        for index, (pairing, outcome) in enumerate(zip(pairings, outcomes, strict=True)):
            _run_pairing(session, pairing, outcome, f"[{index + 1}/{len(pairings)}] {pairing.name}")
    except KeyboardInterrupt:
        session.out(report.table())
        raise
    return report


def _tracking_uri(tracking_uri: str | None, experiment: str) -> str:
    from ecglab.bench.tracking import ensure_experiment, resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    ensure_experiment(uri, experiment)  # once, before any run
    return uri


def _look(session: _Session, outcome: Outcome, run_dir: Path, head: str) -> tuple[bool, RunRecord | None]:
    """(go on, the run's record): a run folder not the engine's fails the pairing (unless --force); a
    finished one is skipped (unless --force)."""
    try:
        record = read_record(run_dir) if is_run_folder(run_dir) else None
    except RunRecordError as err:  # not the engine's: left as it is, unless --force
        if not session.force:
            _failed(session, outcome, run_dir, head, err, time.perf_counter())
            return False, None
        record = None
    if record is not None and record.finished and not session.force:
        session.out(f"{head}: finished earlier ({run_dir}), skipped; --force reruns it")
        outcome.status, outcome.run_dir = "skipped", run_dir
        outcome.test_macro_auroc = macro_test_auroc(run_dir)
    return True, record


def _run_pairing(session: _Session, pairing: Pairing, outcome: Outcome, head: str) -> None:
    """One pairing: skipped when finished earlier or held by another worker, else claimed and run (resumed
    when interrupted); then tracked."""
    from ecglab.tasks.registry import get_task

    spec = get_task(pairing.config.task)
    identifier = run_id(
        pairing.config, spec.version, spec.digest(), session.cohort_hash, launched_world_size()
    )
    run_dir = run_folder(session.runs_dir, identifier)
    go_on, record = _look(session, outcome, run_dir, head)
    if go_on and outcome.status != "skipped":
        go_on = _claim_and_train(session, pairing, record, run_dir, outcome, head)
    if go_on and session.suite.external:
        error = evaluate_externals(
            session.suite.external, run_dir, session.runs_dir, head, session.out, progress=session.progress
        )
        if error:
            outcome.status, outcome.error = "failed", error
    if go_on and session.uri is not None:
        _track(session, run_dir, outcome, head)


def _track(session: _Session, run_dir: Path, outcome: Outcome, head: str) -> None:
    """Log the pairing's run folder to MLflow, unless tracking failed earlier in this suite."""
    from ecglab.bench.tracking import first_line, log_run, redact_text, redact_uri

    assert session.uri is not None
    if session.tracking_failed:
        outcome.tracking_error = f"not tried (MLflow failed on {session.tracking_failed[0]})"
        return
    try:
        log_run(
            run_dir,
            session.uri,
            session.suite.experiment,
            tags={"ecglab.suite": session.suite.name},
            row_level=session.row_level,
        )
    except EcglabError as err:
        reason = redact_text(first_line(err.__cause__ or err), session.uri)[:300]
        outcome.tracking_error = reason
        session.tracking_failed.append(outcome.pairing)
        session.out(
            f"{head}: warning: not logged to MLflow at {redact_uri(session.uri)} ({reason}); the remaining "
            "pairings of this suite are not logged either (their result files are complete)"
        )


def _claim_and_train(
    session: _Session, pairing: Pairing, record: RunRecord | None, run_dir: Path, outcome: Outcome, head: str
) -> bool:
    """Claim the pairing, then run it; False when another worker holds it or it failed."""
    if session.claim_timeout is None:  # claims off (torchrun)
        return _train(session, pairing, record, run_dir, outcome, head)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    claim = acquire(claim_file(run_dir), session.claim_timeout)
    if isinstance(claim, Held):
        outcome.status, outcome.run_dir, outcome.error = "held", run_dir, claim.describe()
        session.out(f"{head}: {claim.describe()}, skipped (that worker runs it)")
        return False
    with claim:
        go_on, record = _look(session, outcome, run_dir, head)  # another worker may have finished it since
        if not go_on or outcome.status == "skipped":
            return go_on
        ok = _train(session, pairing, record, run_dir, outcome, head)
    if claim.lost:
        session.out(f"{head}: its claim expired and was taken over by another worker while it ran")
    return ok


def _train(
    session: _Session, pairing: Pairing, record: RunRecord | None, run_dir: Path, outcome: Outcome, head: str
) -> bool:
    """Run the pairing with the engine: from scratch when forced or when its run failed or was pruned,
    resumed when it was interrupted. False when it failed (reported in ``outcome``)."""
    from ecglab.bench import engine

    started = time.perf_counter()
    force = session.force
    interrupted = record is not None and (
        record.status == "running" or (record.error or "").startswith("KeyboardInterrupt")
    )
    fresh = force or (record is not None and not interrupted)  # failed or pruned: from scratch
    verb = "rerunning (--force)" if force and record is not None else "resuming" if interrupted else "running"
    if record is not None and not force and not interrupted:
        verb = f"rerunning a {record.status} run"
    session.out(f"{head}: {verb} ({run_dir})")
    try:
        engine.run_pairing(
            pairing.config,
            session.runs_dir,
            resume=not fresh,
            force=fresh,
            progress=session.progress,
            track=False,
        )
    except Exception as err:
        _failed(session, outcome, run_dir, head, err, started)
        return False
    outcome.status, outcome.run_dir = "finished", run_dir
    outcome.test_macro_auroc = macro_test_auroc(run_dir)
    outcome.seconds = time.perf_counter() - started
    return True


def _failed(
    session: _Session, outcome: Outcome, run_dir: Path, head: str, err: Exception, started: float
) -> None:
    outcome.status, outcome.run_dir = "failed", run_dir
    outcome.error = f"{type(err).__name__}: {err}"
    outcome.seconds = time.perf_counter() - started
    session.out(f"{head}: FAILED: {outcome.error}")
