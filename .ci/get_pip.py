"""Offline stand-in for ansible-test's pip bootstrap script (get-pip.py).

ansible-test bootstraps pip into each virtual environment it manages by running
~/.ansible/test/cache/get_pip_<version>.py, which it downloads from
ci-files.testing.ansible.com when that file is absent. That site is unreachable here, so
.ci/ansible-test installs this script at that path instead. It does what get-pip does, from
sources this machine has: pip from the interpreter's own ensurepip wheel, then the exact
packages ansible-test asks for (``pip==<version>``) from the package index pip is configured
to use. get-pip's own options (--no-setuptools, --no-wheel) are honoured by not installing
those packages.
"""

import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def main():
    """Bootstrap pip with ensurepip, then install the requested packages with it."""
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", *args])


if __name__ == "__main__":
    main()
