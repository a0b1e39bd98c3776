"""``python -m rekomendasi`` runs the CLI."""

from rekomendasi.cli import app

app(prog_name="rekomendasi")
