"""rekomendasi: training recommendations for Indonesian civil servants (ASN)."""

__version__ = "0.1.0"
