"""Lineage: the tables a run read and wrote (from the Spark Connect plan), kept in MLflow and
as OpenLineage events."""
