"""kneecave: per-rep knee-cave and ankle scoring for squat videos."""

__version__ = "0.1.0"
