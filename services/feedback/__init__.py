"""The feedback service: joins human feedback to its prediction and computes online metrics."""
