"""Runnable studies: ``python -m experiments.NAME``. Each writes runs/NAME/<run-id>/ (config.json,
metrics.csv, checkpoints/, figures/)."""
