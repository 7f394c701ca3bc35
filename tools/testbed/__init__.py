"""QEMU VM test bed: base image builder and VM lifecycle (see __main__.py)."""
