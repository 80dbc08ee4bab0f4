"""The Jupyter server extension: REST API, MLflow UI proxy and kernel provisioning."""
