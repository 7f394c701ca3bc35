"""Re-export the shared fixtures (chaintest.py) for the tests in this directory."""

from chaintest import cri, expected, images  # noqa: F401
