"""One search over models, runs, reports, pipelines, deployments, tables and columns."""
