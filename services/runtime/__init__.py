"""The shared service runtime: contracts, edge codec, dead-lettering, retries, tracing, metrics, lifecycle.

Services import from here and from `schemas`; never from each other.
"""
