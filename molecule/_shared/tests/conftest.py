"""Re-export the shared fixtures and the failure-diagnostics hook (chaintest.py)."""

from chaintest import cri, expected, images, pytest_collection_modifyitems, pytest_runtest_makereport  # noqa: F401
