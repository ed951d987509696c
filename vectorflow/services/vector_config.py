"""Parsing Vector configs and the SECRET[name] / CERT[name] references inside them.

A certificate is stored as a secret of the environment (the PEM text is the value) and is
referenced as CERT[name]; the agent writes it to /var/lib/vf-agent/certs/<filename>.
"""
from __future__ import annotations

import fnmatch
import re

import yaml

from ..schemas.fields import CONFIG_DEPTH_MAX

SECRET_REF = re.compile(r"SECRET\[([A-Za-z0-9_.\-]+)\]")
CERT_REF = re.compile(r"CERT\[([A-Za-z0-9_.\-]+)\]")
AGENT_CERT_DIR = "/var/lib/vf-agent/certs"


def env_var_name(secret_name: str) -> str:
    """Return the agent env var for a secret: ``db-password`` -> ``VF_SECRET_DB_PASSWORD``."""
    return "VF_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", secret_name).upper()


def cert_filename(cert_name: str) -> str:
    """Return the file name the agent writes a certificate to (``ca`` -> ``ca.pem``)."""
    return cert_name if "." in cert_name else f"{cert_name}.pem"


class ConfigRefused(yaml.MarkedYAMLError):
    """YAML refused although well-formed: past a limit of pipeline configs, or a value
    Python cannot hold; ``problem`` says which."""


class _Loader(yaml.SafeLoader):
    """YAML's safe loader without anchors and aliases (an alias bomb expands a few hundred
    bytes into megabytes) and with nesting bounded before the composer's recursion."""

    depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
            raise ConfigRefused(
                problem="YAML anchors and aliases (&name, *name) are not allowed; "
                        "write the repeated value out",
                problem_mark=event.start_mark)
        if not isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            return super().compose_node(parent, index)
        if self.depth >= CONFIG_DEPTH_MAX:
            raise ConfigRefused(
                problem=f"config is nested deeper than {CONFIG_DEPTH_MAX} levels",
                problem_mark=event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load_yaml(text: str):
    """Parse a pipeline config safely; raises yaml.YAMLError on bad syntax, on anchors and
    aliases, on nesting deeper than CONFIG_DEPTH_MAX and on values Python cannot hold."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except (ValueError, OverflowError) as err:  # a 5,000-digit integer, a date 2026-13-45
        reason = str(err).split(":")[0]
        problem = f"config holds a value that cannot be read ({reason})"
        raise ConfigRefused(problem=problem) from None
    finally:
        loader.dispose()


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


SECTIONS = ("sources", "transforms", "sinks")


def validate_vector_config(text: str) -> list[str]:
    """Return the problems of a Vector config, each naming the component; [] when it is valid."""
    if not (text or "").strip():
        return ["config is empty: it needs at least one source and one sink"]
    try:
        config = load_yaml(text)
    except yaml.YAMLError as err:
        return [_syntax_error(err)]
    if not isinstance(config, dict):
        return ["config must be a YAML mapping with sources and sinks"]

    errors: list[str] = []
    kinds: dict[str, str] = {}  # component id -> section it is defined in
    for section in SECTIONS:
        components = config.get(section)
        if components is None:
            continue
        if not isinstance(components, dict):
            errors.append(f"{section}: must be a mapping of component ids to components")
            continue
        for cid, component in components.items():
            cid = str(cid)
            if cid in kinds:
                errors.append(f"{section}.{cid}: id is already used in {kinds[cid]}")
                continue
            kinds[cid] = section
            if not isinstance(component, dict):
                errors.append(f"{section}.{cid}: must be a mapping with a type")
            elif not isinstance(component.get("type"), str) or not component["type"].strip():
                errors.append(f"{section}.{cid}: missing type")

    for section, label in (("sources", "source"), ("sinks", "sink")):
        if not isinstance(config.get(section), dict) or not config[section]:
            errors.append(f"{section}: at least one {label} is required")

    for section in ("transforms", "sinks"):
        components = config.get(section)
        if not isinstance(components, dict):
            continue
        for cid, component in components.items():
            if isinstance(component, dict):
                errors.extend(_input_errors(f"{section}.{cid}", component, kinds))
    return errors


def _input_errors(where: str, component: dict, kinds: dict[str, str]) -> list[str]:
    if "inputs" not in component:
        return [f"{where}: missing inputs"]
    inputs = component["inputs"]
    if not isinstance(inputs, list) or not inputs:
        return [f"{where}: inputs must be a non-empty list of component ids"]
    errors = []
    for entry in inputs:
        if not isinstance(entry, str) or not entry.strip():
            errors.append(f"{where}: input {entry!r} is not a component id")
            continue
        problem = _input_problem(entry, kinds)
        if problem:
            errors.append(f"{where}: input \"{entry}\" {problem}")
    return errors


def _input_problem(entry: str, kinds: dict[str, str]) -> str | None:
    upstream = {cid for cid, section in kinds.items() if section in ("sources", "transforms")}
    if "*" in entry:
        # Vector accepts wildcards; they must match at least one upstream component.
        return None if fnmatch.filter(upstream, entry) else "matches no source or transform"
    if entry in upstream:
        return None
    if kinds.get(entry) == "sinks":
        return "is a sink; inputs must be sources or transforms"
    # A named output of a transform, e.g. a route's "router.errors".
    base = entry.rsplit(".", 1)[0] if "." in entry else None
    if base and kinds.get(base) == "transforms":
        return None
    return "does not exist"


def _syntax_error(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    if isinstance(err, ConfigRefused):
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem
    if mark is not None:
        return f"YAML syntax error at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"YAML syntax error: {problem}"
