"""Artifact cache: upstream binaries built from Go modules and local OCI images (see build.py)."""
