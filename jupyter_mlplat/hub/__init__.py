"""JupyterHub integration: the per-user platform environment (shared by the Kubernetes spawner
config in ``spawner_config/`` and the local multi-user hub of ``mlplat hub``)."""
