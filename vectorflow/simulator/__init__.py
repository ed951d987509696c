"""A fleet simulator: many vf-agents in one process, speaking the agent protocol exactly.

Used by ``vectorflow simulate``, the ``make run`` demo, tests/simulator and the benchmarks.
"""
from .agent import AGENT_VERSION, VECTOR_VERSION, Process, SimAgent
from .fleet import Fleet, FleetThread
from .stats import Stats, format_table, percentile

__all__ = ["AGENT_VERSION", "VECTOR_VERSION", "Fleet", "FleetThread", "Process", "SimAgent",
           "Stats", "format_table", "percentile"]
