"""Indonesia's 38 provinces with approximate populations (millions, 2023), for weighting the world."""

from __future__ import annotations

PROVINCES: tuple[tuple[str, float], ...] = (
    ("Aceh", 5.5), ("Sumatera Utara", 15.4), ("Sumatera Barat", 5.8), ("Riau", 6.6), ("Jambi", 3.7),
    ("Sumatera Selatan", 8.7), ("Bengkulu", 2.1), ("Lampung", 9.3), ("Kepulauan Bangka Belitung", 1.5),
    ("Kepulauan Riau", 2.2), ("DKI Jakarta", 10.7), ("Jawa Barat", 49.9), ("Jawa Tengah", 37.5),
    ("DI Yogyakarta", 3.7), ("Jawa Timur", 41.5), ("Banten", 12.3), ("Bali", 4.4),
    ("Nusa Tenggara Barat", 5.6), ("Nusa Tenggara Timur", 5.6), ("Kalimantan Barat", 5.6),
    ("Kalimantan Tengah", 2.8), ("Kalimantan Selatan", 4.2), ("Kalimantan Timur", 4.0),
    ("Kalimantan Utara", 0.7), ("Sulawesi Utara", 2.7), ("Sulawesi Tengah", 3.1), ("Sulawesi Selatan", 9.4),
    ("Sulawesi Tenggara", 2.8), ("Gorontalo", 1.2), ("Sulawesi Barat", 1.5), ("Maluku", 1.9),
    ("Maluku Utara", 1.3), ("Papua", 1.1), ("Papua Barat", 0.6), ("Papua Selatan", 0.5),
    ("Papua Tengah", 1.4), ("Papua Pegunungan", 1.5), ("Papua Barat Daya", 0.6),
)
JAKARTA = "DKI Jakarta"
