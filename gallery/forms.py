"""The prompt box, validated against the catalog of models on offer; the gallery's filters."""

from collections.abc import Callable
from functools import partial

from django import forms

from gallery import edits
from gallery.catalog import Choice, Controls, ModelSpec
from studio import params

MAX_PROMPT_LENGTH = 4000
MAX_COMPARE_MODELS = 3
MAX_IMAGES = 4


class GenerateForm(forms.Form):
    prompt = forms.CharField(
        strip=True,
        error_messages={"required": "Write a prompt first: describe the image you want."},
    )
    compare = forms.BooleanField(required=False)
    private = forms.BooleanField(required=False)
    aspect_ratio = forms.CharField(required=False)
    resolution = forms.CharField(required=False)
    size = forms.CharField(required=False)
    quality = forms.CharField(required=False)
    count = forms.IntegerField(
        initial=1,
        required=False,
        error_messages={"invalid": "Images must be a whole number from 1 to 4."},
    )
    # Edits only (shown when images are attached and a selected model takes them):
    background = forms.CharField(required=False)
    input_fidelity = forms.CharField(required=False)
    output_format = forms.CharField(required=False)
    output_compression = forms.IntegerField(
        required=False,
        error_messages={"invalid": "Compression must be a whole number from 0 to 100."},
    )

    def __init__(self, *args, models: dict[str, ModelSpec], sources=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.models = models
        # The attached input images (already checked): an edit when there are any.
        self.sources = list(sources)

    @property
    def is_edit(self) -> bool:
        return bool(self.sources)

    def clean_output_compression(self) -> int | None:
        value = self.cleaned_data["output_compression"]
        if value is not None and not 0 <= value <= 100:
            raise forms.ValidationError(f"Compression must be from 0 to 100; got {value}.")
        return value

    def clean_prompt(self) -> str:
        # Browsers send CRLF line breaks in multipart forms; keep the prompt as typed.
        prompt = self.cleaned_data["prompt"].replace("\r\n", "\n").replace("\r", "\n")
        if len(prompt) > MAX_PROMPT_LENGTH:
            raise forms.ValidationError(
                f"The prompt is {len(prompt):,} characters long; the limit is "
                f"{MAX_PROMPT_LENGTH:,}. Shorten it and try again."
            )
        return prompt

    def clean_count(self) -> int:
        count = self.cleaned_data["count"]
        if count is None:
            return 1
        if not 1 <= count <= MAX_IMAGES:
            raise forms.ValidationError(f"Images must be from 1 to {MAX_IMAGES}; got {count}.")
        return count

    def selected_model_ids(self) -> list[str]:
        """The model pickers' values as sent (one, or up to three in compare mode)."""
        data = self.data if self.is_bound else {}
        ids = [v for v in (data.getlist("model") if hasattr(data, "getlist") else []) if v]
        return ids

    def clean(self):
        cleaned = super().clean()
        try:
            edits.sources_check_usable(self.sources)
        except edits.SourceError as exc:
            raise forms.ValidationError(exc.message) from None
        ids = self.selected_model_ids()
        compare = cleaned.get("compare", False)
        if not ids:
            raise forms.ValidationError("Pick a model.")
        if not compare:
            ids = ids[:1]
        if len(ids) > MAX_COMPARE_MODELS:
            raise forms.ValidationError(
                f"Compare takes at most {MAX_COMPARE_MODELS} models; you picked {len(ids)}."
            )
        if len(set(ids)) != len(ids):
            raise forms.ValidationError("Pick different models to compare (one appears twice).")
        specs = []
        for model_id in ids:
            spec = self.models.get(model_id)
            if spec is None:
                raise forms.ValidationError(
                    f"“{model_id}” is not a model this studio offers. Pick one from the list."
                )
            if not self.is_edit and not spec.generates:
                raise forms.ValidationError(
                    f"{spec.label} only edits images: attach an image to use it."
                )
            if self.is_edit and not spec.accepts_images:
                raise forms.ValidationError(
                    f"{spec.label} cannot edit images. Pick a model that takes images, or "
                    "remove the attached images."
                )
            if self.is_edit and len(self.sources) > spec.max_input_images:
                raise forms.ValidationError(
                    f"{spec.label} takes at most {spec.max_input_images} image"
                    f"{'s' if spec.max_input_images != 1 else ''}; {len(self.sources)} are "
                    "attached. Remove some, or pick another model."
                )
            specs.append(spec)
        cleaned["specs"] = specs
        self._clean_controls(cleaned, specs)
        return cleaned

    def _clean_controls(self, cleaned: dict, specs: list[ModelSpec]) -> None:
        controls = Controls.for_models(specs, edit=self.is_edit)
        who = specs[0].label if len(specs) == 1 else "the selected models"
        checks = (
            ("aspect_ratio", "Aspect ratio", controls.aspect_ratios),
            ("resolution", "Resolution", controls.resolutions),
            ("size", "Size", controls.sizes),
            ("quality", "Quality", controls.qualities),
            ("background", "Background", controls.edit_options.get("background", ())),
            ("input_fidelity", "Input fidelity", controls.edit_options.get("input_fidelity", ())),
            ("output_format", "Output format", controls.edit_options.get("output_format", ())),
        )
        for name, label, offered in checks:
            value = cleaned.get(name, "")
            if not value:
                continue
            if not offered:
                # A control that does not apply (e.g. left over from another model) is ignored.
                cleaned[name] = ""
            elif value not in offered:
                choices = ", ".join(offered)
                self.add_error(
                    name, f"{label} {value} is not offered by {who}. Choose one of: {choices}."
                )
        if not controls.compression:
            cleaned["output_compression"] = None
        cleaned["controls"] = controls

    def choice(self) -> Choice:
        c = self.cleaned_data
        first = self.sources[0] if self.sources else None
        return Choice(
            aspect_ratio=c.get("aspect_ratio", ""),
            resolution=c.get("resolution", ""),
            size=c.get("size", ""),
            quality=c.get("quality", ""),
            background=c.get("background", ""),
            input_fidelity=c.get("input_fidelity", ""),
            output_format=c.get("output_format", ""),
            output_compression=c.get("output_compression"),
            source_size=(first.width, first.height) if first else None,
        )


class ParsedField(forms.Field):
    """An optional value read from the URL with one of studio.params' parsers, so a form and a
    view that read the same kind of value apply the same rule, with the same message."""

    def __init__(self, *, parse: Callable[[str], object], **kwargs):
        super().__init__(required=False, **kwargs)
        self.parse = parse

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return self.parse(str(value).strip())
        except params.BadParameter as exc:
            raise forms.ValidationError(exc.message) from None


class GalleryFilterForm(forms.Form):
    """The gallery's search box, filters and page cursor, read from the URL (GET)."""

    q = forms.CharField(required=False, max_length=200, strip=True)
    model = forms.CharField(required=False, max_length=200)
    starred = forms.BooleanField(required=False)
    date_from = ParsedField(parse=partial(params.parse_date, label="“From”"))
    date_to = ParsedField(parse=partial(params.parse_date, label="“To”"))
    who = forms.CharField(required=False, max_length=150)
    before = ParsedField(parse=params.parse_cursor)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError("“From” is after “To”: swap the dates.")
        return cleaned

    def error_message(self) -> str:
        return " ".join(str(e) for errors in self.errors.values() for e in errors)
