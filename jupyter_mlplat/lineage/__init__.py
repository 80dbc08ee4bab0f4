"""Lineage: which tables a run read and wrote (from the Spark Connect plan), recorded in MLflow and as OpenLineage events."""
