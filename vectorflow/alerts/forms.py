from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..services.alerts import MAX_THRESHOLD, RULES
from ..services.notifications import EVENTS, MAX_NAME, MAX_SECRET, MAX_URL, TYPES


class RuleForm(FlaskForm):
    rule = SelectField("Rule", choices=list(RULES))
    enabled = BooleanField("Enabled")
    threshold_minutes = IntegerField("Threshold (minutes)",
                                     validators=[Optional(),
                                                 NumberRange(0, MAX_THRESHOLD)])


class ChannelForm(FlaskForm):
    team_id = SelectField("Team")
    type = SelectField("Type", choices=list(TYPES))
    name = StringField("Name", validators=[DataRequired(), Length(max=MAX_NAME)])
    url = StringField("URL (webhook, Slack)", validators=[Optional(), Length(max=MAX_URL)])
    to = StringField("To (email)", validators=[Optional(), Length(max=1000)])
    secret = PasswordField("Signing secret (webhook)", validators=[Optional(), Length(max=MAX_SECRET)])
    rules = SelectMultipleField("Rules", choices=[SelectChoice(name, rule.title)
                                         for name, rule in RULES.items()],
                                default=list(RULES))
    events = SelectMultipleField("Maintenance events", choices=list(EVENTS), default=[])
