"""The Mesa model of powderkeg: agent families, balance-sheet arrays and the weekly step.

Built on ``kernels``; the map of the package is docs/design.md.
"""
