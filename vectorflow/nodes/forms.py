from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length


class RenameForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=253)])


class AgentUpdateForm(FlaskForm):
    target_version = StringField("Target version", validators=[DataRequired(), Length(max=100)])
    download_url = StringField("Download URL", validators=[DataRequired(), Length(max=2000)])
    checksum = StringField("Checksum", validators=[DataRequired(), Length(max=71)])
