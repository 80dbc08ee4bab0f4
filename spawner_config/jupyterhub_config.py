"""JupyterHub on Kubernetes for jupyter-mlplat — the plain ``jupyterhub_config.py`` form.

Run the hub image with this file next to ``mlplat_spawner.py`` (the image does:
``jupyterhub -f /srv/jupyterhub/jupyterhub_config.py``). z2jh users: see ``values.yaml``, which
loads the same module from ``hub.extraConfig``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mlplat_spawner

c = get_config()  # noqa: F821 (provided by JupyterHub)

# -- the hub --------------------------------------------------------------------------------
c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
c.JupyterHub.ip = "0.0.0.0"
c.JupyterHub.hub_ip = "0.0.0.0"  # user pods reach the hub through its Service
# configure() below sets hub_connect_url to http://hub.<namespace>.svc.cluster.local:8081
# (POD_NAMESPACE, or the service account's namespace): user pods are in other namespaces
c.JupyterHub.cleanup_servers = False  # restarting the hub leaves users' servers running
# Replace with your identity provider (OAuthenticator's GenericOAuthenticator, LDAP, ...).
c.JupyterHub.authenticator_class = "jupyterhub.authenticators.shared.SharedPasswordAuthenticator"
c.SharedPasswordAuthenticator.user_password = os.environ.get("MLPLAT_HUB_PASSWORD", "")
c.Authenticator.allowed_users = set(filter(None, os.environ.get("MLPLAT_HUB_USERS", "").split(",")))

# -- the platform, team-wide (every user's server gets these as MLP_* variables) --------------
c.MLPlat.tracking_uri = "http://mlflow.mlflow.svc.cluster.local:5000"
c.MLPlat.spark_mode = "kubernetes"
c.MLPlat.spark_image = "apache/spark:4.3.0"
c.MLPlat.catalog_backend = "spark"
c.MLPlat.deploy_target = "kserve"
# Each user logs to MLflow as themself (the MLflow server runs its auth app: README.md here,
# "Tracking permissions"). At each spawn the hub makes the user's MLflow user with the admin
# credential of the `mlflow-admin` Secret, mounted into the hub's pod at this path; user pods
# get only their own credential.
c.MLPlat.tracking_auth = True
c.MLPlat.tracking_admin_dir = "/etc/mlplat/mlflow-admin"
# Team groups: a user's JupyterHub groups become MLflow team roles at each spawn, and members
# may edit what each of them creates (the MLflow server runs `--app-name mlplat-auth`). Groups
# come from here (z2jh: hub.loadGroups) or from the authenticator (manage_groups).
# c.JupyterHub.load_groups = {"vision": {"users": ["ada", "cy"]}}
# c.MLPlat.kserve_mode: left to the platform (the cluster's default, else KServe's: Standard)
# Storage access for model serving: on the per-user `mlplat-models` service account only.
c.MLPlatSpawner.models_annotations = {
    # "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/mlplat-models-read-only",
}
# e.g. ["mlplat-models-s3"], see rbac/models-serviceaccount.yaml
c.MLPlatSpawner.models_secrets = []

# -- the user servers: profiles, image, per-user namespace, service account, env, RBAC -------
mlplat_spawner.configure(
    c, image=os.environ.get("MLPLAT_NOTEBOOK_IMAGE", mlplat_spawner.DEFAULT_IMAGE)
)
