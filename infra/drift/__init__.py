"""Calibration and evaluation tooling for the drift detectors (``services/drift/detectors.py``)."""
