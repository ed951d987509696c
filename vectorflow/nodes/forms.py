from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ..schemas.fields import CHECKSUM_MAX, NODE_NAME_MAX, URL_MAX, VERSION_MAX


class RenameForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=NODE_NAME_MAX)])


class AgentUpdateForm(FlaskForm):
    target_version = StringField("Target version",
                                 validators=[DataRequired(), Length(max=VERSION_MAX)])
    download_url = StringField("Download URL",
                               validators=[DataRequired(), Length(max=URL_MAX)])
    checksum = StringField("Checksum",
                           validators=[DataRequired(), Length(max=CHECKSUM_MAX)])
