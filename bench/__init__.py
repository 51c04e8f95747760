"""Measurements that belong in reports, not in pass/fail tests (`make evaluate`, `make bench`)."""
