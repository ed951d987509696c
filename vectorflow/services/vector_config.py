"""Parsing Vector configs and the SECRET[name] / CERT[name] references inside them.

A certificate is stored as a secret of the environment (the PEM text is the value) and is
referenced as CERT[name]; the agent writes it to /var/lib/vf-agent/certs/<filename>.
"""
from __future__ import annotations

import re

import yaml

SECRET_REF = re.compile(r"SECRET\[([A-Za-z0-9_.\-]+)\]")
CERT_REF = re.compile(r"CERT\[([A-Za-z0-9_.\-]+)\]")
AGENT_CERT_DIR = "/var/lib/vf-agent/certs"


def env_var_name(secret_name: str) -> str:
    """Return the agent env var for a secret: ``db-password`` -> ``VF_SECRET_DB_PASSWORD``."""
    return "VF_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", secret_name).upper()


def cert_filename(cert_name: str) -> str:
    """Return the file name the agent writes a certificate to (``ca`` -> ``ca.pem``)."""
    return cert_name if "." in cert_name else f"{cert_name}.pem"


def load_yaml(text: str):
    """Parse YAML safely; raises yaml.YAMLError on bad syntax."""
    return yaml.safe_load(text)


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def referenced_secrets(config) -> set[str]:
    """Return the secret names a parsed config references as SECRET[name]."""
    return {m for s in _strings(config) for m in SECRET_REF.findall(s)}


def referenced_certs(config) -> set[str]:
    """Return the certificate names a parsed config references as CERT[name]."""
    return {m for s in _strings(config) for m in CERT_REF.findall(s)}
