"""Pipelines: Airflow DAG files in the project, run by an embedded or a shared Airflow."""
