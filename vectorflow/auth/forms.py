from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Length, Regexp

from ..services.accounts import EMAIL_RE


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[
        DataRequired(), Regexp(EMAIL_RE, message="Enter a valid email address.")
    ])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    remember = BooleanField("Keep me signed in")
