"""The maintenance window form (create and edit): fields in the page's words, turned into
the service's settings (services.windows.FIELDS) by ``values``."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

TARGETS = [SelectChoice("labels", "Nodes with these labels (also nodes that get them later)"),
           SelectChoice("nodes", "These nodes"), SelectChoice("all", "Every node of the environment")]
# Form field of each setting, for the service's per-field problems.
FIELD_OF = {"name": "name", "nodeIds": "node_ids", "selector": "labels",
            "selector.labels": "labels", "start": "start", "durationMinutes": "duration",
            "timezone": "timezone", "rrule": "rrule", "reason": "reason", "enabled": "enabled"}


class WindowForm(FlaskForm):
    name = StringField("Name")
    target = RadioField("Nodes", choices=TARGETS, default="labels")
    labels = StringField("Labels", description="key=value, comma-separated (rack=r1, tier=edge)")
    node_ids = SelectMultipleField("Nodes", choices=[], validate_choice=False,
                                   widget=ListWidget(prefix_label=False),
                                   option_widget=CheckboxInput())
    start = StringField("First start, in the window's time zone",
                        description="e.g. 2027-01-05T02:00")
    duration = IntegerField("Duration (minutes)", default=60, validators=[Optional()])
    timezone = StringField("Time zone (IANA)", default="UTC")
    rrule = StringField("Repeats (RFC 5545 RRULE; empty: once)",
                        description="e.g. FREQ=WEEKLY;BYDAY=TU or FREQ=MONTHLY;BYDAY=1SA")
    reason = TextAreaField("Reason (shown on the nodes)")
    enabled = BooleanField("Enabled", default=True)

    def values(self) -> dict:
        """Return the settings with the service's names."""
        values = {"name": self.name.data or "", "start": (self.start.data or "").strip(),
                  "durationMinutes": self.duration.data, "timezone": self.timezone.data or "",
                  "rrule": self.rrule.data or None, "reason": self.reason.data or None,
                  "enabled": bool(self.enabled.data)}
        if self.target.data == "nodes":
            values.update(nodeIds=list(self.node_ids.data or []), selector=None)
        else:
            labels = self.parsed_labels() if self.target.data == "labels" else {}
            values.update(nodeIds=None, selector={"labels": labels or {}})
        return values

    def parsed_labels(self) -> dict | None:
        """Return the labels typed as ``key=value, ...``; None (with a field error) if they
        are not, or if there are none (then every node would be meant: say so instead)."""
        labels = {}
        for pair in (self.labels.data or "").split(","):
            if not pair.strip():
                continue
            key, sep, value = pair.strip().partition("=")
            if not sep or not key.strip():
                self.labels.errors = [*self.labels.errors, f"{pair.strip()!r} is not key=value"]
                return None
            labels[key.strip()] = value.strip()
        if not labels:
            self.labels.errors = [*self.labels.errors, ("Give at least one key=value, or choose "
                                                        "every node of the environment.")]
            return None
        return labels

    def show_problems(self, details: dict) -> bool:
        """Put the service's per-field problems under the form's fields; False if none fit."""
        shown = False
        for key, problem in details.items():
            field = getattr(self, FIELD_OF.get(key, ""), None)
            if field is not None:
                field.errors = [*field.errors, problem]
                shown = True
        return shown
