"""Re-export the shared fixtures and the failure-diagnostics hook (chaintest.py). The `full`
tier's collection hook is registered here only: every scenario loads this conftest, and the
hook sees the whole session's tests."""

from chaintest import cri, expected, images, pytest_collection_modifyitems, pytest_runtest_makereport  # noqa: F401
