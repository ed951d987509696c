from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..models import LogLevel
from ..schemas.fields import (
    BUDGET_MIN_AVAILABLE_MAX,
    CONFIG_MAX,
    DESCRIPTION_MAX,
    NAME_MAX,
    SECRET_VALUE_MAX,
)

LOG_LEVEL_CHOICES = [SelectChoice("", "Default")] + [SelectChoice(level.value) for level in LogLevel]


class PipelineForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=NAME_MAX)])
    description = TextAreaField("Description", validators=[Length(max=DESCRIPTION_MAX)])
    log_level = SelectField("Log level", choices=LOG_LEVEL_CHOICES, default="")
    config_yaml = TextAreaField("Vector config (YAML)", validators=[
        DataRequired(),
        Length(max=CONFIG_MAX, message=f"The config must be at most {CONFIG_MAX // 1024} KiB."),
    ])


def _value_field(label: str) -> TextAreaField:
    return TextAreaField(label, validators=[
        DataRequired(),
        Length(max=SECRET_VALUE_MAX,
               message=f"The value must be at most {SECRET_VALUE_MAX // 1024} KiB."),
    ])


class SecretForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=NAME_MAX)])
    value = _value_field("Value")


class RotateSecretForm(FlaskForm):
    value = _value_field("New value")


class BudgetForm(FlaskForm):
    kind = SelectField("Disruption budget", default="default", choices=[
        SelectChoice("default", "Default: 1 node"),
        SelectChoice("count", "At least N nodes"),
        SelectChoice("percent", "At least N % of the environment's nodes"),
    ])
    value = IntegerField("N", validators=[Optional(),
                                           NumberRange(min=0, max=BUDGET_MIN_AVAILABLE_MAX)])
