"""The Mesa model of powderkeg: agent families, balance-sheet arrays and the weekly step.

Built on ``kernels`` (DESIGN.md §2–§3); the model itself is the subject of the next issue.
"""
