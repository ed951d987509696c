from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField
from wtforms.validators import DataRequired, NumberRange

from ..schemas.telemetry import SAMPLE_LIMIT_DEFAULT, SAMPLE_LIMIT_MAX


class SampleForm(FlaskForm):
    component_key = SelectField("Component", validators=[DataRequired()], validate_choice=True)
    limit = IntegerField("Events", default=SAMPLE_LIMIT_DEFAULT,
                         validators=[NumberRange(min=1, max=SAMPLE_LIMIT_MAX)])


class TapForm(FlaskForm):
    node_id = SelectField("Node", validators=[DataRequired()], validate_choice=True)
    component_id = SelectField("Component", validators=[DataRequired()], validate_choice=True)
