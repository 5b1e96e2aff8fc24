"""Scorer version: bump on any change that can change a result (thresholds, method)."""

SCORER_VERSION = "kneecave-scorer/2.4.0"
