"""Sluice services. Each sub-package is one independent service; `runtime` is the shared library they all use."""
