"""Reading finished experiments back from MLflow: rows, mean ± std, figures, tables.

`results` reads runs into plain rows, `aggregate` pools replicates, `figures` and
`tables` render them; `pipelines/reporting/report.py` and `pipelines/reporting/compare.py` compose them.
"""
