"""Portal forms: uploading a data product's descriptor files, and issuing API tokens."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from catalog.models import ApiToken, Domain
from meshport import jsonlimits

# The same bound as the API's (MESHPORT_MAX_DESCRIPTOR_BYTES).
MAX_UPLOAD_BYTES: int = settings.MESHPORT_CATALOG["MAX_DESCRIPTOR_BYTES"]
MAX_UPLOAD_FILES = 50
PASTED_NAME = "pasted"


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one ``<input type=file multiple>``; an empty list when none."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in items if item]


class ProductUploadForm(forms.Form):
    """A descriptor bundle from uploaded files, pasted text, or a bundle carried over from
    a preview (``bundle``: JSON ``{file name: text}``), checked and sized here; the
    descriptor itself is checked by the registration service.

    ``cleaned_data["files"]`` is the ``{file name: text}`` bundle to register.
    """

    ACTIONS = (("preview", "Preview"), ("publish", "Publish"))

    uploads = MultipleFileField(required=False)
    text = forms.CharField(required=False, strip=False, widget=forms.Textarea)
    bundle = forms.CharField(required=False, widget=forms.HiddenInput)
    accept_breaking = forms.BooleanField(required=False)
    action = forms.ChoiceField(choices=ACTIONS, required=False)

    def clean_action(self) -> str:
        return self.cleaned_data.get("action") or "publish"

    def clean_bundle(self) -> dict[str, str]:
        raw = self.cleaned_data.get("bundle") or ""
        if not raw:
            return {}
        try:
            bundle = jsonlimits.loads(raw)
        except ValueError:  # not JSON, or past the limits of any JSON input
            bundle = None
        if not isinstance(bundle, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in bundle.items()
        ):
            # On the form, not on the hidden field, whose errors the page does not show.
            self.add_error(None, "The carried-over files are damaged: upload them again.")
            return {}
        return bundle

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        uploads: list[UploadedFile] = data.get("uploads") or []
        text: str = data.get("text") or ""
        if len(uploads) > MAX_UPLOAD_FILES:
            raise forms.ValidationError(f"Upload at most {MAX_UPLOAD_FILES} files at once.")
        # Sizes are checked before anything is read, and again on what was read.
        self._check_size(sum(f.size or 0 for f in uploads) + len(text.encode()))
        bundle = {**self._read(uploads), **self._pasted(text)} or data.get("bundle") or {}
        if not bundle:
            raise forms.ValidationError("Choose descriptor files or paste a descriptor.")
        self._check_size(sum(len(t.encode()) for t in bundle.values()))
        data["files"] = bundle
        data["carried"] = json.dumps(bundle, ensure_ascii=False)
        return data

    @staticmethod
    def _check_size(size: int) -> None:
        if size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The upload is {size / 1024 / 1024:.1f} MB; the limit is "
                f"{MAX_UPLOAD_BYTES // 1024 // 1024} MB for all files together."
            )

    @staticmethod
    def _read(uploads: list[UploadedFile]) -> dict[str, str]:
        files: dict[str, str] = {}
        for upload in uploads:
            name = upload.name or "upload"
            if name in files:
                raise forms.ValidationError(f"Two files are named “{name}”: rename one.")
            try:
                files[name] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError(f"“{name}” is not UTF-8 text.") from None
        return files

    @staticmethod
    def _pasted(text: str) -> dict[str, str]:
        if not text.strip():
            return {}
        # The loader reads ``.json`` as JSON (with JSON's error positions), else YAML.
        suffix = ".json" if text.lstrip().startswith(("{", "[")) else ".yaml"
        return {PASTED_NAME + suffix: text}


class TokenForm(forms.Form):
    """A new API token: who uses it, what it may do, where it may publish, until when."""

    name = forms.CharField(
        max_length=100, help_text="Who uses it, e.g. “airflow-prod” or “dbt-finance”."
    )
    scopes = forms.MultipleChoiceField(
        choices=ApiToken.SCOPES, widget=forms.CheckboxSelectMultiple, initial=["lineage:write"]
    )
    domains = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Domains it may publish data products into; none ticked: every domain.",
    )
    expires_in_days = forms.TypedChoiceField(
        label="Expires",
        coerce=int,
        initial=90,
        choices=[(30, "in 30 days"), (90, "in 90 days"), (365, "in a year"), (0, "never")],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        top = Domain.objects.filter(parent=None).order_by("slug")
        domains = self.fields["domains"]
        assert isinstance(domains, forms.MultipleChoiceField)
        domains.choices = [(d.slug, d.name) for d in top]

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if not name:
            raise forms.ValidationError("Give the token a name that says who uses it.")
        return name
