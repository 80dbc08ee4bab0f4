"""Evaluation reports on model versions: made with mlflow.models.evaluate, stored in MLflow,
indexed for search."""
