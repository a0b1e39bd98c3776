"""The static structure of a simulated ASN world: competencies, positions with their standards,
agencies, and the training catalogue with each entry's latent effectiveness.

Each part is built in its own module (:mod:`positions`, :mod:`agencies`, :mod:`catalog`); this one
assembles them and the index matrices later stages use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rekomendasi.contract.schemas import (
    Catalog,
    CatalogCompetencies,
    Competencies,
    Positions,
    PositionStandards,
)
from rekomendasi.simulate.agencies import build_agencies
from rekomendasi.simulate.catalog import build_catalog
from rekomendasi.simulate.config import SimConfig
from rekomendasi.simulate.lexicon import world_spec
from rekomendasi.simulate.positions import build_competencies, build_positions


@dataclass(frozen=True)
class World:
    """Static structure shared by every later stage of the simulation.

    Matrices are indexed by position row / competency column / catalogue row in the order of the
    corresponding frames.
    """

    competencies: pd.DataFrame
    positions: pd.DataFrame  # contract columns + family, unit_family
    standards: pd.DataFrame
    required: np.ndarray  # [position, competency] required level, 0 where not in the standard
    agencies: pd.DataFrame  # instansi_id, name, kind, province, weight, daily_reports, periodic_skp
    catalog: pd.DataFrame  # contract columns + family, tier, launched_on, effect, popularity
    catalog_competencies: pd.DataFrame
    targets: np.ndarray  # [entry, 3] competency index, -1 padding
    target_levels: np.ndarray  # [entry, 3] target level, 0 padding
    families: dict[str, Any]

    @property
    def competency_ids(self) -> list[str]:
        return list(self.competencies[Competencies.competency_id])


def build_world(config: SimConfig) -> World:
    """Build competencies, positions, standards, agencies and the catalogue for ``config``."""
    spec = world_spec()
    competencies = build_competencies(spec)
    comp_index = {cid: i for i, cid in enumerate(competencies[Competencies.competency_id])}
    positions, standards = build_positions(spec, config.rng("positions"))
    required = np.zeros((len(positions), len(comp_index)), dtype=np.float32)
    pos_index = {pid: i for i, pid in enumerate(positions[Positions.position_id])}
    required[
        standards[PositionStandards.position_id].map(pos_index).to_numpy(),
        standards[PositionStandards.competency_id].map(comp_index).to_numpy(),
    ] = standards[PositionStandards.required_level].to_numpy()
    catalog, catalog_comp = build_catalog(spec, config)
    targets = np.full((len(catalog), 3), -1, dtype=np.int32)
    levels = np.zeros((len(catalog), 3), dtype=np.float32)
    entry_index = {tid: i for i, tid in enumerate(catalog[Catalog.training_id])}
    slot = catalog_comp.groupby(CatalogCompetencies.training_id, sort=False).cumcount().to_numpy()
    rows = catalog_comp[CatalogCompetencies.training_id].map(entry_index).to_numpy()
    targets[rows, slot] = catalog_comp[CatalogCompetencies.competency_id].map(comp_index).to_numpy()
    levels[rows, slot] = catalog_comp[CatalogCompetencies.target_level].to_numpy()
    return World(
        competencies=competencies,
        positions=positions,
        standards=standards,
        required=required,
        agencies=build_agencies(config),
        catalog=catalog,
        catalog_competencies=catalog_comp,
        targets=targets,
        target_levels=levels,
        families=spec["families"],
    )
