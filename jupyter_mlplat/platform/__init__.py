"""The embedded local platform: MLflow (and, later, Spark Connect) plus JupyterLab on loopback."""
