"""Where the tests find things: this folder, the repository, and the real open data in ../shared."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SHARED = REPO.parent / "shared"
SHARED_DATA = SHARED / "data"
