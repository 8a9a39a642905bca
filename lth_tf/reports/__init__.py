"""Reading finished experiments back from MLflow: rows, mean ± std, figures, tables.

`results` reads runs into plain rows, `aggregate` pools replicates, `figures` and
`tables` render them; `pipelines/report.py` and `pipelines/compare.py` compose them.
"""
