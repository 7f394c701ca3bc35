"""Use the shared fixtures and helpers of molecule/_shared/tests (chaintest.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "_shared" / "tests"))

from chaintest import cri, expected, images, pytest_runtest_makereport  # noqa: E402,F401
