"""Publishing a built task folder into the task cache, safely when several workers build the same task."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def publish(staging: Path, folder: Path) -> None:
    """Move ``staging`` to ``folder``. A complete task another worker published there first is kept (a task
    folder is named by its spec and cohort digests, so both are the same task) and never removed under its
    readers; an incomplete leftover is moved aside first."""
    if (folder / "task.json").is_file():
        shutil.rmtree(staging)
        return
    if folder.exists():
        aside = Path(tempfile.mkdtemp(prefix=folder.name + ".stale-", dir=folder.parent))
        os.replace(folder, aside / "task")
        shutil.rmtree(aside)
    try:
        os.rename(staging, folder)
    except OSError:  # another worker published between the check and the rename
        if not (folder / "task.json").is_file():
            raise
        shutil.rmtree(staging)
