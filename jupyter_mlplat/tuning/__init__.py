"""Hyperparameter tuning on Optuna: studies tracked in MLflow, trials in parallel locally, on Spark or on Kubernetes."""
