"""pandera model of the scored-candidates table: the long format every output reads (the scores store,
the batch file, the API, agency plans). Column names are read from it (``Scores.nip == "nip"``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
from pandera.typing import Series

from rekomendasi.contract.schemas import NIP_PATTERN

TOP_CONTRIBUTIONS = 3
"""Model contributions kept per scored row: the largest by size."""

GAP_TYPE = pa_arrow.list_(
    pa_arrow.struct(
        [
            ("competency_id", pa_arrow.string()),
            ("required_level", pa_arrow.float32()),  # null: not in the position's standard
            ("estimated_level", pa_arrow.float32()),  # null: no estimate
            ("uncertainty", pa_arrow.float32()),
            ("target_level", pa_arrow.float32()),
            ("gap", pa_arrow.float32()),
            ("closable", pa_arrow.float32()),
            # The evidence behind the estimate (snapshot competency_gaps), for the explanation.
            ("n_assessment", pa_arrow.int16()),
            ("n_indicators", pa_arrow.int16()),
            ("n_behaviour", pa_arrow.int16()),
            ("n_skp", pa_arrow.int16()),
            ("n_feedback", pa_arrow.int16()),
            ("n_training", pa_arrow.int16()),
            ("prior_only", pa_arrow.bool_()),
            ("latest_evidence_on", pa_arrow.date32()),  # null: no dated evidence
        ]
    )
)
"""Arrow type of the ``gaps`` column: the competencies the entry targets, largest shortfall first."""


def ranks_within(keys: np.ndarray) -> np.ndarray:
    """1, 2, ... within each run of equal ``keys`` (rows grouped by employee, in order)."""
    if not len(keys):
        return np.zeros(0, dtype=np.int64)
    position = np.arange(len(keys))
    first = np.r_[True, keys[1:] != keys[:-1]]
    return position - np.maximum.accumulate(np.where(first, position, 0)) + 1


def contribution_columns(i: int) -> tuple[str, str]:
    """Names of the feature and value columns of the ``i``-th largest contribution (1-based)."""
    return f"contribution_{i}_feature", f"contribution_{i}_value"


class Scores(pa.DataFrameModel):
    """One row per (employee, ranked entry): rank 1 is best. Everything an explanation needs is in the
    row: the generator score (the tie-break), the gaps addressed and the model's largest contributions
    (null past the ranks the scoring explained, ``ScoreOptions.explained``)."""

    instansi_id: Series[str]
    nip: Series[str] = pa.Field(str_matches=NIP_PATTERN)
    rank: Series[np.int16] = pa.Field(ge=1)
    training_id: Series[str]
    score: Series[float]
    generator_score: Series[np.float32]
    expected_gap_closed: Series[np.float32] = pa.Field(ge=0)
    contribution_1_feature: Series[str] = pa.Field(nullable=True)
    contribution_1_value: Series[np.float32] = pa.Field(nullable=True)
    contribution_2_feature: Series[str] = pa.Field(nullable=True)
    contribution_2_value: Series[np.float32] = pa.Field(nullable=True)
    contribution_3_feature: Series[str] = pa.Field(nullable=True)
    contribution_3_value: Series[np.float32] = pa.Field(nullable=True)
    gaps: Series[pd.ArrowDtype] = pa.Field(dtype_kwargs={"pyarrow_dtype": GAP_TYPE})

    class Config:
        strict = True
        ordered = True
        coerce = False

    @pa.dataframe_check(error="rows must be sorted by nip and rank, ranks 1, 2, ... per employee")
    def _ranked(cls, frame: pd.DataFrame) -> bool:
        nip = frame["nip"].to_numpy(dtype=object)
        rank = frame["rank"].to_numpy(dtype=np.int64)
        return bool((rank == ranks_within(nip)).all() and (nip[1:] >= nip[:-1]).all())


SCORE_COLUMNS = tuple(Scores.to_schema().columns)
