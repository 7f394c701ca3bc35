"""Make the collection importable as ansible_collections.kubenode.runtime_chain in tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS = ROOT / ".ansible" / "collections"
LINK = COLLECTIONS / "ansible_collections" / "kubenode" / "runtime_chain"
if not LINK.exists():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    os.symlink("../../../..", LINK)
sys.path.insert(0, str(COLLECTIONS))
sys.path.insert(0, str(ROOT))
