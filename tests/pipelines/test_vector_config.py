"""Validating Vector configs before they are saved: every error names its component."""
import pytest

from vectorflow.schemas.fields import CONFIG_DEPTH_MAX
from vectorflow.services.vector_config import validate_vector_config

from ..factories import SIMPLE_CONFIG

ROUTED = """\
sources:
  app:
    type: file
    include: [/var/log/app.log]
  app_audit:
    type: journald
transforms:
  router:
    type: route
    inputs: ["app*"]
    route:
      errors: '.level == "error"'
sinks:
  errors:
    type: console
    inputs: [router.errors]
    encoding: {codec: json}
"""


def test_a_config_with_a_source_a_transform_and_a_sink_is_valid():
    assert validate_vector_config(SIMPLE_CONFIG) == []


def test_wildcard_inputs_and_named_transform_outputs_are_accepted():
    assert validate_vector_config(ROUTED) == []


@pytest.mark.parametrize("text, expected", [
    ("", "config is empty"),
    ("- a\n- b\n", "config must be a YAML mapping"),
    ("sinks:\n  out:\n    type: console\n    inputs: [x]\n", "sources: at least one source is required"),
    ("sources:\n  in:\n    type: demo_logs\n", "sinks: at least one sink is required"),
    ("sources:\n  in:\n    format: json\nsinks:\n  out:\n    type: console\n    inputs: [in]\n",
     "sources.in: missing type"),
    ("sources:\n  in: demo_logs\nsinks:\n  out:\n    type: console\n    inputs: [in]\n",
     "sources.in: must be a mapping with a type"),
    ("sources:\n  in:\n    type: demo_logs\nsinks:\n  out:\n    type: console\n    inputs: [parse]\n",
     'sinks.out: input "parse" does not exist'),
    (("sources:\n  in:\n    type: demo_logs\ntransforms:\n  parse:\n    type: remap\n"
      "sinks:\n  out:\n    type: console\n    inputs: [parse]\n"), "transforms.parse: missing inputs"),
    (("sources:\n  in:\n    type: demo_logs\nsinks:\n  a:\n    type: console\n    inputs: [in]\n"
      "  b:\n    type: console\n    inputs: [a]\n"), 'sinks.b: input "a" is a sink'),
    ("sources:\n  in:\n    type: demo_logs\nsinks:\n  out:\n    type: console\n    inputs: in\n",
     "sinks.out: inputs must be a non-empty list"),
    ("sources:\n  in:\n    type: demo_logs\nsinks:\n  out:\n    type: console\n    inputs: [\"x*\"]\n",
     'sinks.out: input "x*" matches no source or transform'),
    ("sources:\n  in:\n    type: demo_logs\nsinks:\n  in:\n    type: console\n    inputs: [in]\n",
     "sinks.in: id is already used in sources"),
    ("sources: [1, 2]\nsinks:\n  out:\n    type: console\n", "sources: must be a mapping"),
])
def test_invalid_configs_are_refused_with_the_component_and_problem_named(text, expected):
    errors = validate_vector_config(text)
    assert any(expected in error for error in errors), errors


def test_every_problem_is_reported_not_only_the_first():
    text = ("sources:\n  in:\n    format: json\nsinks:\n  out:\n    type: console\n"
            "    inputs: [parse]\n")
    errors = validate_vector_config(text)
    assert "sources.in: missing type" in errors
    assert 'sinks.out: input "parse" does not exist' in errors


def test_yaml_syntax_errors_give_the_line_number():
    text = "sources:\n  in:\n    type: demo_logs\nsinks:\n  out: [unclosed\n"
    (error,) = validate_vector_config(text)
    assert error.startswith("YAML syntax error at line ")
    assert "line 5" in error or "line 6" in error


# ---------------------------------------------------------------- what a config may cost

RECURSIVE_ALIAS = SIMPLE_CONFIG + "extra: &a [*a]\n"
ALIAS_BOMB = SIMPLE_CONFIG + "".join(
    f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9) if n else '[SECRET[x]]'}]\n" for n in range(6))


@pytest.mark.parametrize("config, where", [
    (RECURSIVE_ALIAS, "line 11, column 8"),
    (ALIAS_BOMB, "line 11, column 5"),
    (SIMPLE_CONFIG.replace("format: json", "format: &fmt json"), "line 4, column 13"),
    (SIMPLE_CONFIG + "defaults: &d {codec: json}\nmore:\n  <<: *d\n", "line 11, column 11"),
])
def test_yaml_anchors_and_aliases_are_refused_naming_where(config, where):
    refused = ("YAML anchors and aliases (&name, *name) are not allowed; "
               "write the repeated value out")
    assert validate_vector_config(config) == [f"{refused} ({where})"]


def test_the_alias_bomb_is_small_and_refused_before_it_expands():
    assert len(ALIAS_BOMB.encode()) < 700
    assert validate_vector_config(ALIAS_BOMB)[0].startswith("YAML anchors and aliases")


@pytest.mark.parametrize("config", [
    "[" * 3000,
    "[" * 3000 + "]" * 3000,
    "{a: " * 3000 + "1" + "}" * 3000,
    "".join("  " * i + f"k{i}:\n" for i in range(3000)),
])
def test_nesting_deeper_than_the_limit_is_refused_naming_the_limit(config):
    (problem,) = validate_vector_config(config)
    assert problem.startswith(f"config is nested deeper than {CONFIG_DEPTH_MAX} levels (line ")


def test_nesting_up_to_the_limit_is_read():
    arrays = CONFIG_DEPTH_MAX - 4  # inside the document, sinks, out and encoding
    deep = SIMPLE_CONFIG.replace("codec: json",
                                 "codec: json\n      x: " + "[" * arrays + "]" * arrays)
    assert validate_vector_config(deep) == []
    deeper = deep.replace("x: [", "x: [[")
    assert validate_vector_config(deeper)[0].startswith("config is nested deeper than")


@pytest.mark.parametrize("value, reason", [
    ("1" * 5000, "Exceeds the limit (4300 digits) for integer string conversion"),
    ("2026-13-45", "month must be in 1..12"),
])
def test_values_python_cannot_hold_are_refused_not_a_crash(value, reason):
    assert validate_vector_config(SIMPLE_CONFIG + f"extra: {value}\n") == [
        f"config holds a value that cannot be read ({reason})"]
