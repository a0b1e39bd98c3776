"""xAPI (Experience API 1.0.3) in and out.

In: statements a learning platform or its LRS sends (registered, attempted, completed, passed, failed) are
checked (:mod:`.model`, :mod:`.statements`), tied to catalogue entries through the activity map
(:mod:`.activities`) and become training history (:mod:`.history`). Out: every recommendation shown to a
platform becomes a statement with the ADL TLA profile's ``recommended`` verb (:mod:`.recommended`), so an
LRS can join what was suggested with what was done. Pure functions and values; the state database keeps
the statements (:mod:`rekomendasi.serving.store.xapi`).
"""

from rekomendasi.xapi.activities import CANONICAL_PREFIX, ActivityMap, canonical_iri, check_iri
from rekomendasi.xapi.history import HISTORY_COLUMNS, HistoryEvent, MergeResult, history_frame, merge_history
from rekomendasi.xapi.model import Statement
from rekomendasi.xapi.recommended import (
    VIAS,
    EntryName,
    ShownRecommendation,
    recommended_id,
    recommended_statement,
)
from rekomendasi.xapi.statements import (
    MAX_STATEMENTS,
    IncomingStatement,
    InvalidStatements,
    Outcome,
    Parsed,
    StatementResult,
    contract_score,
    parse_statements,
)
from rekomendasi.xapi.verbs import INBOUND_VERBS, Verb

__all__ = [
    "CANONICAL_PREFIX",
    "HISTORY_COLUMNS",
    "INBOUND_VERBS",
    "MAX_STATEMENTS",
    "VIAS",
    "ActivityMap",
    "EntryName",
    "HistoryEvent",
    "IncomingStatement",
    "InvalidStatements",
    "MergeResult",
    "Outcome",
    "Parsed",
    "ShownRecommendation",
    "Statement",
    "StatementResult",
    "Verb",
    "canonical_iri",
    "check_iri",
    "contract_score",
    "history_frame",
    "merge_history",
    "parse_statements",
    "recommended_id",
    "recommended_statement",
]
