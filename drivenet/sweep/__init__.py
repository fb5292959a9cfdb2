"""Choosing settings honestly: a sweep trains every point of a search once per seed, picks the winner with
one judge and reports it with another that never sees the same data; an ensemble ships its seeds.

spec.py reads the SPEC, trials.py trains and scores the runs (in local processes), study.py shares them
among workers through an Optuna storage, table.py and plot.py write the results, runner.py runs it all.
"""
