"""Validating Vector configs before they are saved: every error names its component."""
import pytest

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
