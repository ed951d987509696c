from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..models import LogLevel
from ..schemas.fields import (
    CONFIG_MAX,
    DESCRIPTION_MAX,
    NAME_MAX,
    SECRET_VALUE_MAX,
    CleanText,
)

LOG_LEVEL_CHOICES = [SelectChoice("", "Default")] + [SelectChoice(level.value) for level in LogLevel]


class PipelineForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=NAME_MAX), CleanText()])
    description = TextAreaField("Description",
                                validators=[Length(max=DESCRIPTION_MAX), CleanText()])
    log_level = SelectField("Log level", choices=LOG_LEVEL_CHOICES, default="")
    config_yaml = TextAreaField("Vector config (YAML)",
                                validators=[DataRequired(), Length(max=CONFIG_MAX), CleanText()])


class SecretForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=NAME_MAX), CleanText()])
    value = TextAreaField("Value", validators=[DataRequired(), Length(max=SECRET_VALUE_MAX),
                                              CleanText()])


class RotateSecretForm(FlaskForm):
    value = TextAreaField("New value", validators=[DataRequired(), Length(max=SECRET_VALUE_MAX),
                                                   CleanText()])
