from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ..schemas.fields import (
    CHECKSUM_MAX,
    NODE_NAME_MAX,
    URL_MAX,
    VERSION_MAX,
    CleanText,
)


class RenameForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=NODE_NAME_MAX), CleanText()])


class AgentUpdateForm(FlaskForm):
    target_version = StringField("Target version",
                                 validators=[DataRequired(), Length(max=VERSION_MAX), CleanText()])
    download_url = StringField("Download URL",
                               validators=[DataRequired(), Length(max=URL_MAX), CleanText()])
    checksum = StringField("Checksum",
                           validators=[DataRequired(), Length(max=CHECKSUM_MAX), CleanText()])
