"""Test yardsticks shared by the tests and the benchmarks: an independent trace generator and scoring."""
