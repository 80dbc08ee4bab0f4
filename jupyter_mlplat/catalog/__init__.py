"""The datalake metadata catalog: backends that read a metastore, a search index, a service."""
