"""The data contract: pandera schemas of every table, the loader and the quarantine report."""

from rekomendasi.contract.loader import (
    QUARANTINE_COLUMNS,
    Dataset,
    TableReport,
    empty_table,
    load_dataset,
    locate_files,
    write_quarantine,
)
from rekomendasi.contract.schemas import TABLES, TABLES_BY_NAME, TableSpec

__all__ = [
    "QUARANTINE_COLUMNS",
    "TABLES",
    "TABLES_BY_NAME",
    "Dataset",
    "TableReport",
    "TableSpec",
    "empty_table",
    "load_dataset",
    "locate_files",
    "write_quarantine",
]
