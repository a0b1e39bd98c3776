"""The one filter type of a recommendation request, and the one rule of each filter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rekomendasi.candidates import Catalogue
from rekomendasi.contract.schemas import Catalog


@dataclass(frozen=True, slots=True)
class Filters:
    """What a request allows; None means no limit.

    Attributes:
        modalities: allowed modalities (Perlan 10/2018 forms).
        max_cost_idr: highest cost per participant, in rupiah (an entry without a cost counts as 0).
        max_jp: longest entry, in JP.
        province: classroom entries held in another province are left out (compared without case or
            surrounding spaces); entries held anywhere or online stay.
    """

    modalities: tuple[str, ...] | None = None
    max_cost_idr: int | None = None
    max_jp: int | None = None
    province: str | None = None

    @classmethod
    def from_request(
        cls,
        modality: Sequence[str] | None,
        max_cost_idr: int | None,
        max_jp: int | None,
        province: str | None,
    ) -> Filters:
        """The filters of a request's parameters (an empty modality list allows every modality)."""
        return cls(tuple(modality) if modality else None, max_cost_idr, max_jp, province)

    @property
    def empty(self) -> bool:
        """bool: True when the filters allow every entry."""
        return self == NO_FILTERS

    def allowed(self, catalogue: Catalogue) -> np.ndarray | None:
        """[t] bool over the catalogue's candidate-able entries, or None when every entry is allowed."""
        if self.empty:
            return None
        entries = catalogue.entries
        keep = np.ones(len(entries), dtype=bool)
        if self.modalities is not None:
            keep &= entries[Catalog.modality].isin(self.modalities).to_numpy()
        if self.max_cost_idr is not None:
            keep &= (entries[Catalog.cost_idr].fillna(0) <= self.max_cost_idr).to_numpy(dtype=bool)
        if self.max_jp is not None:
            keep &= (entries[Catalog.jp] <= self.max_jp).to_numpy(dtype=bool)
        if self.province is not None:
            held = entries[Catalog.province]
            wanted = self.province.strip().casefold()
            keep &= (held.isna() | (held.str.strip().str.casefold() == wanted)).to_numpy(dtype=bool)
        return keep


NO_FILTERS = Filters()
