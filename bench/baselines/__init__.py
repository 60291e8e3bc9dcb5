"""Standalone reference baselines that the vaetheory benchmarks compare the library against.

Nothing here imports ``vaetheory``: each module is a self-contained, deliberately plain implementation
(see ``bench/baselines/README.md``).
"""
