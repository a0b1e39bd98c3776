"""Benchmarks of the jobs and the server: wall time and peak memory of a command in a child process
(:mod:`~rekomendasi.bench.harness`), the real server under a separate load generator
(:mod:`~rekomendasi.bench.serve`, :mod:`~rekomendasi.bench.loadgen`). ``rekomendasi bench ...`` runs them."""
