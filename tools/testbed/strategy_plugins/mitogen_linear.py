"""Strategy ``mitogen_linear``: Ansible's linear strategy run over Mitogen when it is installed.

Mitogen (pinned in requirements.txt) keeps one Python interpreter per host for the whole
play instead of starting one per task; on slow (emulated) hosts this cuts the per-task
cost several times. Without Mitogen this falls back to the stock ``linear`` strategy, so a
checkout still works with plain ansible-core.

An opt-in accelerator of the test bed, never the product's default (ansible.cfg runs
``linear``): the Molecule scenarios use it through .config/molecule/config.yml (a scenario
sets ``strategy: linear`` in its molecule.yml to run without it), and ``MITOGEN=1 make site``
selects it with ``ANSIBLE_STRATEGY_PLUGINS=tools/testbed/strategy_plugins
ANSIBLE_STRATEGY=mitogen_linear``.
"""

from __future__ import annotations

try:
    import ansible_mitogen.strategy  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    from ansible.plugins.strategy.linear import StrategyModule  # noqa: F401
else:
    import ansible.plugins.strategy.linear

    class StrategyModule(ansible_mitogen.strategy.StrategyMixin, ansible.plugins.strategy.linear.StrategyModule):
        """Linear strategy with Mitogen's connection multiplexing."""
