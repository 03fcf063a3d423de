"""Support for bench/bench_peers.py: the bench-only venv and the two peer engines' harnesses."""
