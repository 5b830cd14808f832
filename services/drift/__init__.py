"""Sluice drift service package (detectors library: ``services.drift.detectors``)."""
