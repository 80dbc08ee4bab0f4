"""Pipelines: Airflow 3 DAG files in the project's pipelines folder, written from notebook
cells or from ready-made templates, run now (``dag.test()`` in a subprocess) or on a schedule by
an embedded or a shared Airflow.

Airflow is imported only inside the processes that parse or run DAGs, never here.
"""
