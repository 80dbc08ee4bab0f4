"""MLflow tracking: what a kernel needs to log to the platform's server with no setup code."""
