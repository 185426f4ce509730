"""The simulated reactor and the `qcm simulate` servers (test data builders live in tests/support/)."""
