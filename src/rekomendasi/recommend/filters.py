"""The one filter type of a recommendation request, and the one rule of each filter; and the people's
standing objections, which every output leaves out (:class:`Objections`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

from rekomendasi.candidates import Catalogue
from rekomendasi.contract.schemas import Catalog
from rekomendasi.feedback import standing_objections
from rekomendasi.recommend.schemas import Scores, ranks_within

Rows = TypeVar("Rows", pd.DataFrame, pa.Table)


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


@dataclass(frozen=True, slots=True)
class Objections:
    """The (employee, entry) pairs a person objected to (UU 27/2022 art. 10) and nobody has resolved
    yet: :func:`~rekomendasi.recommend.score_employees` drops them from the candidates, and
    :meth:`drop` from rows already ranked (the scores store), so every output leaves them out and the
    ranks close up behind them.

    Attributes:
        by_nip: nip -> the training_ids that person objected to.
    """

    by_nip: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Objections:
        """The objections of (nip, training_id) pairs."""
        by_nip: dict[str, set[str]] = {}
        for nip, training_id in pairs:
            by_nip.setdefault(str(nip), set()).add(str(training_id))
        return cls({nip: frozenset(ids) for nip, ids in by_nip.items()})

    @classmethod
    def from_feedback(cls, rows: pd.DataFrame | None) -> Objections:
        """The objections standing in feedback rows (an export's columns; None: no feedback at all), by
        :func:`rekomendasi.feedback.standing_objections`."""
        return NO_OBJECTIONS if rows is None else cls.of_pairs(standing_objections(rows))

    def __bool__(self) -> bool:
        return bool(self.by_nip)

    def of(self, nip: str) -> frozenset[str]:
        """The training_ids ``nip`` objected to (empty when none)."""
        return self.by_nip.get(nip, frozenset())

    @property
    def depth(self) -> int:
        """int: the most entries one person objected to (0 when nobody did)."""
        return max((len(ids) for ids in self.by_nip.values()), default=0)

    def objected(
        self, nips: Sequence[str] | np.ndarray, training_ids: Sequence[str] | np.ndarray
    ) -> np.ndarray:
        """[n] bool: True where row i's (nip, training_id) is objected to."""
        out = np.zeros(len(nips), dtype=bool)
        if not self.by_nip or not len(nips):
            return out
        nips = np.asarray(nips, dtype=object)
        ids = np.asarray(training_ids, dtype=object)
        for i in np.flatnonzero(pd.Index(nips).isin(list(self.by_nip))):  # hashed; few people object
            out[i] = ids[i] in self.by_nip[nips[i]]
        return out

    def drop(self, rows: Rows) -> Rows:
        """Scored rows (:class:`~rekomendasi.recommend.schemas.Scores` columns, sorted by nip and rank; a
        frame or an Arrow table) without the objected ones, ranked 1, 2, ... again per employee."""
        if not self.by_nip or not len(rows):
            return rows
        if isinstance(rows, pa.Table):
            nips = np.asarray(rows.column(Scores.nip).to_pylist(), dtype=object)
            keep = ~self.objected(nips, rows.column(Scores.training_id).to_pylist())
            if keep.all():
                return rows
            kept = rows.filter(pa.array(keep))
            at = kept.schema.get_field_index(Scores.rank)
            rank = pa.array(ranks_within(nips[keep]), type=kept.schema.field(at).type)
            return kept.set_column(at, kept.schema.field(at), rank)
        nips = rows[Scores.nip].to_numpy(dtype=object)
        keep = ~self.objected(nips, rows[Scores.training_id].to_numpy(dtype=object))
        if keep.all():
            return rows
        kept = rows[keep].reset_index(drop=True)
        kept[Scores.rank] = pd.Series(ranks_within(nips[keep])).astype(rows[Scores.rank].dtype)
        return kept


NO_OBJECTIONS = Objections()
