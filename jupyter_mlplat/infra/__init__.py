"""Shared infrastructure under the services: child processes, ports, HTTP probes, Kubernetes."""
