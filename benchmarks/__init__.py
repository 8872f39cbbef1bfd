"""Measurement scripts and their shared harness; part of the repository, not of the installed package.

Run the scripts from the repository root (``python benchmarks/run_benchmarks.py``); they
put the root on ``sys.path`` themselves. Other code imports the shared modules as
``benchmarks.harness``, ``benchmarks.measure``, ``benchmarks.report`` and
``benchmarks.epoch_time`` with the repository root on ``sys.path``.
"""
