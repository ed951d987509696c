from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..models import LogLevel
from ..services import secrets
from ..services.pipelines import MAX_CONFIG, MAX_DESCRIPTION, MAX_NAME

LOG_LEVEL_CHOICES = [SelectChoice("", "Default")] + [SelectChoice(level.value) for level in LogLevel]


class PipelineForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=MAX_NAME)])
    description = TextAreaField("Description", validators=[Length(max=MAX_DESCRIPTION)])
    log_level = SelectField("Log level", choices=LOG_LEVEL_CHOICES, default="")
    config_yaml = TextAreaField("Vector config (YAML)", validators=[
        DataRequired(),
        Length(max=MAX_CONFIG, message=f"The config must be at most {MAX_CONFIG // 1024} KiB."),
    ])


class SecretForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=secrets.MAX_NAME)])
    value = TextAreaField("Value", validators=[
        DataRequired(),
        Length(max=secrets.MAX_VALUE,
               message=f"The value must be at most {secrets.MAX_VALUE // 1024} KiB."),
    ])


class RotateSecretForm(FlaskForm):
    value = TextAreaField("New value", validators=[DataRequired()])


class BudgetForm(FlaskForm):
    kind = SelectField("Disruption budget", default="default", choices=[
        SelectChoice("default", "Default: 1 node"),
        SelectChoice("count", "At least N nodes"),
        SelectChoice("percent", "At least N % of the environment's nodes"),
    ])
    value = IntegerField("N", validators=[Optional(), NumberRange(min=0, max=100_000)])
