from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from ..models import Role
from ..schemas.fields import NAME_MAX


class PersonalTokenForm(FlaskForm):
    name = StringField("Token name", validators=[DataRequired(), Length(max=NAME_MAX)])


class ServiceTokenForm(FlaskForm):
    name = StringField("Token name", validators=[DataRequired(), Length(max=NAME_MAX)])
    team_id = SelectField("Team", choices=[], validate_choice=True)
    role = SelectField("Role", choices=[SelectChoice(r.name, r.name.title()) for r in Role], default="VIEWER")
