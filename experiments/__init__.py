"""Running powderkeg: the ``powderkeg`` command line, and later scenarios, sweeps and reports."""
