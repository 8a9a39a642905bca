"""The experiments, one file per kind: lottery (with its trial), supermask, transfer, sweep."""
