"""Dashboard forms of the trading app: the runtime controls.

`ControlsForm` is a `ModelForm` over the editable controls (`trading.domain.controls`): Django
parses and range-checks each value, with sentences for errors; the save goes through the
audited service (`trading.services.controls.controls_save`), never `form.save()`. The kill
switch is not in it (it has its own button), and `version` carries the version the page was
rendered from, so a stale page cannot overwrite someone else's change.
"""

from __future__ import annotations

from typing import Any

from django import forms

from trading.domain.controls import CONTROL_SPECS, ControlKind
from trading.models import RuntimeControl

#: Editable controls in the form, in display order (everything but the kill switch).
FORM_CONTROLS: tuple[str, ...] = tuple(spec.name for spec in CONTROL_SPECS)

_ON_OFF = ((True, "on"), (False, "off"))


def _sentence_errors(spec_label: str, sentence: str) -> dict[str, str]:
    return {
        "invalid": sentence,
        "min_value": sentence,
        "max_value": sentence,
        "required": f"{spec_label} is required.",
        "invalid_choice": f"{spec_label}: %(value)s is not one of the choices.",
    }


class ControlsForm(forms.ModelForm):
    """The System Health tab's controls form (see the module docstring)."""

    version = forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=0,
        error_messages={"required": "The form has no version: reload the page."},
    )
    confirm_live = forms.CharField(
        required=False,
        max_length=16,
        label="To turn dry run off, type the environment's name",
    )

    class Meta:
        model = RuntimeControl
        fields = FORM_CONTROLS
        widgets = {"reconcile_enabled": forms.Select(choices=_ON_OFF)}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for spec in CONTROL_SPECS:
            field = self.fields[spec.name]
            label = spec.label.split(",")[0]
            field.error_messages.update(_sentence_errors(label, spec.range_sentence() + "."))
            field.label = spec.label
            if spec.kind is ControlKind.CHOICE and isinstance(field, forms.ChoiceField):
                options: list[tuple[Any, Any]] = list(field.choices)  # type: ignore[arg-type]
                field.choices = [
                    ("", "default") if value == "" else (value, text) for value, text in options
                ]

    def changes(self, posted: Any) -> dict[str, Any]:
        """The controls this post names, with their parsed values (a field the post omits is
        left as it is: a missing field never means "off")."""
        return {name: self.cleaned_data[name] for name in FORM_CONTROLS if name in posted}

    def error_sentences(self) -> list[str]:
        """Every error as a sentence (one per field, the form's own last)."""
        return [str(error) for errors in self.errors.values() for error in errors]
