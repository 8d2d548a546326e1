"""The data layer: the tidy ladder table and everything that makes one.

:mod:`.schema` defines and validates the table; :mod:`.tasks` holds the task registry
(chance level, item count); :mod:`.csv_files` reads a CSV file with one clear error per failure;
:mod:`.readers` reads OLMo logs and tidy tables,
:mod:`.lm_eval` lm-evaluation-harness JSON and :mod:`.results_table` per-run results tables
(spreadsheet exports); :mod:`.bundled` ships the OLMo ladder and the paper's targets; :mod:`.preprocess` picks the points each step of the law sees;
:mod:`.targets` parses target models; :mod:`.plausibility` checks units and values a
valid table can still get wrong; :mod:`.summary` describes a table. It imports nothing
from the model, analysis, plots or CLI layers (and no JAX). A new reader goes in this
package and returns :func:`.schema.validate`'s table.
"""
