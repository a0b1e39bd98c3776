"""Agencies (instansi) of the simulated world: central ministries and regional governments."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rekomendasi.simulate.config import SimConfig
from rekomendasi.simulate.geography import PROVINCES

_CENTRAL_NAMES = (
    "Kementerian Keuangan",
    "Kementerian Dalam Negeri",
    "Kementerian Kesehatan",
    "Kementerian Pendidikan Dasar dan Menengah",
    "Kementerian PANRB",
    "Badan Kepegawaian Negara",
    "Lembaga Administrasi Negara",
    "Kementerian Pekerjaan Umum",
    "Kementerian Hukum",
    "Badan Pusat Statistik",
    "Kementerian Komunikasi dan Digital",
    "Kementerian Agama",
    "Kementerian Sosial",
    "Kementerian Perhubungan",
)


def build_agencies(config: SimConfig) -> pd.DataFrame:
    """One row per instansi (one per 2,500 employees, at least 2; about 22% central): its hiring
    weight (sums to 1) and whether it keeps daily reports and periodic SKP."""
    rng = config.rng("agencies")
    total = max(2, round(config.employees / 2500))
    n_central = max(1, round(0.22 * total))
    n_regional = max(1, total - n_central)
    names = [p for p, _ in PROVINCES]
    pop = np.array([w for _, w in PROVINCES])
    rows = []
    for k in range(n_central):
        name = _CENTRAL_NAMES[k] if k < len(_CENTRAL_NAMES) else f"Lembaga Pemerintah Nonkementerian {k + 1}"
        rows.append(
            {"instansi_id": f"kl-{k + 1:03d}", "name": name, "kind": "central", "province": "DKI Jakarta"}
        )
    for k in range(n_regional):
        province = names[rng.choice(len(names), p=pop / pop.sum())]
        level = rng.choice(["provinsi", "kabupaten", "kota"], p=[0.2, 0.65, 0.15])
        name = (
            f"Pemerintah Provinsi {province}"
            if level == "provinsi"
            else f"Pemerintah {level.title()} {k + 1:03d} ({province})"
        )
        rows.append(
            {"instansi_id": f"pemda-{k + 1:03d}", "name": name, "kind": "regional", "province": province}
        )
    agencies = pd.DataFrame(rows)
    size = rng.lognormal(0.0, 0.5, len(agencies))
    central = agencies["kind"].eq("central").to_numpy()
    weight = np.where(central, 0.22 * size / size[central].sum(), 0.78 * size / size[~central].sum())
    agencies["weight"] = weight / weight.sum()
    a = config.assumptions
    agencies["daily_reports"] = rng.random(len(agencies)) < np.where(
        central, a.daily_reports_central, a.daily_reports_regional
    )
    agencies["periodic_skp"] = rng.random(len(agencies)) < a.periodic_skp
    # The largest regional government always runs both, so every world exercises every table.
    largest = int(np.argmax(np.where(central, -1.0, weight)))
    agencies.loc[largest, ["daily_reports", "periodic_skp"]] = True
    return agencies
