"""One search over models, runs, reports, pipelines, deployments and tables, with a small query language."""
