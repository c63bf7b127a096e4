"""The notification preferences form: one choice per kind, built from kinds.py."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from participation.notifications.kinds import CADENCE_LABELS, KINDS, Cadence


class PreferencesForm(FlaskForm):
    """A kind left out of a post keeps its current choice."""

    def kind_fields(self) -> list[SelectField]:
        return [self[name] for name in KINDS]


for _name, _kind in KINDS.items():
    setattr(PreferencesForm, _name, SelectField(
        _kind.label, description=_kind.description,
        choices=[SelectChoice(cadence.value, CADENCE_LABELS[cadence]) for cadence in Cadence]))
