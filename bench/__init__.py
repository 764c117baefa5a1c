"""Spectra's benchmark suite (`make bench`): a fast fake upstream, a bare pass-through proxy,
load generators and a runner that prints one table (see bench/RESULTS.md)."""
