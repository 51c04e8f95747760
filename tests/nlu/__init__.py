"""Tests of the NLU pipeline's own components (the held-out sets live beside them)."""
