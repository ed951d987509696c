from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from ..models import Role, SecretBackend
from ..schemas.fields import NAME_MAX
from ..services.accounts import EMAIL_RE

ROLE_CHOICES = [r.name for r in Role]


class TeamForm(FlaskForm):
    name = StringField("Team name", validators=[DataRequired(), Length(max=NAME_MAX)])


class MemberForm(FlaskForm):
    email = EmailField("Email", validators=[
        DataRequired(), Regexp(EMAIL_RE, message="Enter a valid email address.")
    ])
    role = SelectField("Role", choices=ROLE_CHOICES, default="VIEWER")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class EnvironmentForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=NAME_MAX)])
    secret_backend = SelectField(
        "Secret backend", choices=[b.value for b in SecretBackend], default="BUILTIN"
    )
    secret_backend_config = TextAreaField(
        "Backend settings (JSON, sent to agents; no credentials)", validators=[Optional()]
    )


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for buttons that POST."""
