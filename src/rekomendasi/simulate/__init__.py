"""The synthetic ASN world: a data directory that follows the contract, plus its ``truth/`` folder."""

from rekomendasi.simulate.config import SimConfig
from rekomendasi.simulate.run import SimulationSummary, simulate

__all__ = ["SimConfig", "SimulationSummary", "simulate"]
