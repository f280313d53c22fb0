"""A built-in Ziwo API simulator: deterministic call-center data served over real HTTP, with
optional faults, for demos, tests and benchmarks."""

from ziwo_reports.connectors.ziwo.simulator.server import Simulator
from ziwo_reports.connectors.ziwo.simulator.store import Truth
from ziwo_reports.connectors.ziwo.simulator.world import DEFAULT_PASSWORD, DEFAULT_USERNAME, FAULT_MODES, SimConfig

__all__ = ["DEFAULT_PASSWORD", "DEFAULT_USERNAME", "FAULT_MODES", "SimConfig", "Simulator", "Truth"]
