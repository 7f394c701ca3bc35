#!/usr/bin/env python3
"""Dynamic inventory of the embedded default: the local test-bed VM (`make up` starts it).

Prints the host ``local-node`` with its connection variables (127.0.0.1, the forwarded SSH
port, the per-VM key) read from the test bed's state; fails with a hint when it is not running.
"""

import json
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tools.testbed import vm  # noqa: E402
from tools.testbed.__main__ import ansible_vars  # noqa: E402

GROUP, NAME, HOST = "local", "node", "local-node"


def main() -> int:
    if "--host" in sys.argv:
        print("{}")
        return 0
    inst = vm.load(GROUP, NAME)
    if inst is None:
        sys.stderr.write("the local test-bed VM is not running: start it with `make up` (or run `make site`)\n")
        return 1
    print(json.dumps({"kubenode_nodes": {"hosts": [HOST]}, "_meta": {"hostvars": {HOST: ansible_vars(inst)}}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
