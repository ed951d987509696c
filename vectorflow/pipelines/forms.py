from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..models import LogLevel

LOG_LEVEL_CHOICES = [SelectChoice("", "Default")] + [SelectChoice(level.value) for level in LogLevel]


class PipelineForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    description = TextAreaField("Description", validators=[Length(max=2000)])
    log_level = SelectField("Log level", choices=LOG_LEVEL_CHOICES, default="")
    config_yaml = TextAreaField("Vector config (YAML)", validators=[DataRequired()])


class SecretForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    value = TextAreaField("Value", validators=[DataRequired()])


class RotateSecretForm(FlaskForm):
    value = TextAreaField("New value", validators=[DataRequired()])


class BudgetForm(FlaskForm):
    kind = SelectField("Disruption budget", default="default", choices=[
        SelectChoice("default", "Default: 1 node"),
        SelectChoice("count", "At least N nodes"),
        SelectChoice("percent", "At least N % of the environment's nodes"),
    ])
    value = IntegerField("N", validators=[Optional(), NumberRange(min=0, max=100_000)])
