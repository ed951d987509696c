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

from ..schemas.fields import (
    EMAIL_TO_MAX,
    NAME_MAX,
    THRESHOLD_MAX,
    URL_MAX,
    WEBHOOK_SECRET_MAX,
)
from ..services.alerts import RULES
from ..services.notifications import EVENTS, TYPES


class RuleForm(FlaskForm):
    rule = SelectField("Rule", choices=list(RULES))
    enabled = BooleanField("Enabled")
    threshold_minutes = IntegerField("Threshold (minutes)",
                                     validators=[Optional(),
                                                 NumberRange(0, THRESHOLD_MAX)])


class ChannelForm(FlaskForm):
    team_id = SelectField("Team")
    type = SelectField("Type", choices=list(TYPES))
    name = StringField("Name", validators=[DataRequired(), Length(max=NAME_MAX)])
    url = StringField("URL (webhook, Slack)", validators=[Optional(), Length(max=URL_MAX)])
    to = StringField("To (email)", validators=[Optional(), Length(max=EMAIL_TO_MAX)])
    secret = PasswordField("Signing secret (webhook)",
                           validators=[Optional(), Length(max=WEBHOOK_SECRET_MAX)])
    rules = SelectMultipleField("Rules", choices=[SelectChoice(name, rule.title)
                                         for name, rule in RULES.items()],
                                default=list(RULES))
    events = SelectMultipleField("Maintenance events", choices=list(EVENTS), default=[])
