"""Strategy ``mitogen_linear``: Ansible's linear strategy run over Mitogen when it is installed.

Mitogen (pinned in requirements.txt) keeps one Python interpreter per host for the whole
play instead of starting one per task; on slow (emulated) hosts this cuts the per-task
cost several times. Without Mitogen this falls back to the stock ``linear`` strategy, so a
checkout still works with plain ansible-core. ``ANSIBLE_STRATEGY=linear`` opts out.
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
