"""The prompt box, validated against the catalog of models on offer; the gallery's filters.

`GenerateForm` is the one reader of the prompt box's data: strictly, to start a run
(`is_valid`, `choice`), and leniently, to draw the box again as it was sent even when it cannot
run yet (`draft`): after Compare is switched, a model added or removed, a picker changed, images
attached or removed, or a refused Generate. gallery/prompt_box.py draws the box from it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django import forms
from django.forms.utils import ErrorDict
from django.utils.datastructures import MultiValueDict

from gallery import catalog, edits
from gallery.catalog import Choice, Controls, ModelSpec
from gallery.selectors import ASPECTS
from studio import params

MAX_PROMPT_LENGTH = 4000
MAX_COMPARE_MODELS = 3
MAX_IMAGES = 4
# The controls the box keeps as sent while it is redrawn (compression is read as a number).
CONTROL_VALUES = (
    "aspect_ratio", "resolution", "size", "quality", "moderation", "service_tier", "background",
    "input_fidelity", "output_format",
)  # fmt: skip
CHECKED = ("on", "true", "1")


@dataclass(frozen=True)
class Draft:
    """The prompt box as sent, read leniently: what to draw even when it cannot run yet."""

    prompt: str
    selected: tuple[str, ...]  # a model per picker, in order; never empty while models exist
    compare: bool
    count: int
    private: bool
    values: dict[str, str]  # each of CONTROL_VALUES as sent, "" when not
    compression: int | None


@dataclass(frozen=True)
class Attachments:
    """The images the box names: those already attached (tokens, less one a plain POST's ×
    removed), and the files and link a plain POST sends with it (with JavaScript each is
    attached on its own, on /uploads/)."""

    tokens: list[str]
    files: list
    link: str


def _position(text: str, *, length: int) -> int | None:
    """A position in a list as a request names it (a picker, a model to remove); None when the
    request names none: it is a hint from the page, so a broken one is ignored."""
    try:
        return params.parse_index(text, length=length)
    except params.BadParameter:
        return None


def _without_repeats(selected: list[str], generators: list[str], *, changed: str) -> list[str]:
    """Replace repeated (or empty) picks with models not picked yet, keeping the changed one."""
    keep_first = None
    if changed.startswith("model-"):
        keep_first = _position(changed.removeprefix("model-"), length=len(selected))
    order = sorted(range(len(selected)), key=lambda i: (i != keep_first, i))
    result = list(selected)
    taken: set[str] = set()
    for i in order:
        if result[i] and result[i] not in taken:
            taken.add(result[i])
            continue
        unused = [m for m in generators if m not in taken]
        if not unused:
            result[i] = ""
            continue
        result[i] = unused[0]
        taken.add(unused[0])
    return [m for m in result if m]


def _count(text) -> int:
    """Images as a redraw reads them: a broken number is 1, others are held to 1..MAX_IMAGES."""
    try:
        return min(max(int(text), 1), MAX_IMAGES)
    except (TypeError, ValueError):
        return 1


def _compression(text: str) -> int:
    """Compression as a number from 0 to 100, else BadParameter saying so."""
    return params.parse_int(text, minimum=0, maximum=100, what="Compression")


def _compression_or_none(text: str) -> int | None:
    try:
        return _compression(text)
    except params.BadParameter:
        return None


class GenerateForm(forms.Form):
    """The prompt box: checked strictly before a run starts (`is_valid`, `choice`), read
    leniently to draw it again (`draft`). Made from the data sent, or by `blank` / `reusing`
    for a box a page or link opens."""

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
    # Where a selected model takes them (catalog.toml): "" sends none (the standard tier).
    moderation = forms.CharField(required=False)
    service_tier = forms.CharField(required=False)
    count = forms.IntegerField(
        initial=1,
        required=False,
        error_messages={"invalid": "Images must be a whole number from 1 to 4."},
    )
    # Edits only (shown when images are attached and a selected model takes them):
    background = forms.CharField(required=False)
    input_fidelity = forms.CharField(required=False)
    output_format = forms.CharField(required=False)
    # A number, read in _clean_controls: only once it is known to apply.
    output_compression = forms.CharField(required=False)

    def __init__(
        self, data=None, *, models: dict[str, ModelSpec], sources=(), changed: str = "", **kwargs
    ):
        if data is not None and data.get("use_prompt"):
            # A suggestion or a recent prompt's "Generate again": that prompt, the box's settings.
            data = data.copy()
            data["prompt"] = data["use_prompt"]
        super().__init__(data, **kwargs)
        self.models = models
        # The attached input images (already checked): an edit when there are any.
        self.sources = list(sources)
        # The id of the picker just changed (htmx's HX-Trigger, "model-1"): if that made two
        # pickers show the same model, the *other* one moves to an unused model.
        self.changed = changed

    @classmethod
    def blank(cls, *, models: dict[str, ModelSpec], sources=(), prompt: str = "") -> "GenerateForm":
        """The box as a page opens it: the first model that fits, with its defaults; a prompt
        link's prompt (cut to the limit), or an image to edit."""
        return cls(models=models, sources=sources, initial={"prompt": prompt[:MAX_PROMPT_LENGTH]})

    @classmethod
    def reusing(cls, run, *, models: dict[str, ModelSpec]) -> "GenerateForm":
        """The box filled with a run's prompt, models and settings ("Reuse settings"); models
        no longer offered are left out."""
        selected = [m for m in run.model_ids if m in models and models[m].generates]
        settings = {k: str(v) for k, v in run.settings.items() if v not in (None, "")}
        initial = {
            **settings,
            "prompt": run.prompt,
            "model": selected,
            "compare": "on" if run.compare and len(selected) > 1 else "",
            "count": str(run.count),
            "private": "on" if run.is_private else "",
        }
        return cls(models=models, initial=initial)

    @staticmethod
    def attachments(data, files=None) -> Attachments:
        """The images the box's data names; read before the form is made, since which images
        are attached decides which models it offers."""
        action = data.get("action", "")
        removed = (
            action.removeprefix("remove_source:") if action.startswith("remove_source:") else ""
        )
        return Attachments(
            tokens=[token for token in data.getlist("source") if token != removed],
            files=files.getlist("images") if files is not None else [],
            link=data.get("image_link", "").strip(),
        )

    @property
    def is_edit(self) -> bool:
        return bool(self.sources)

    @property
    def redraws(self) -> bool:
        """A plain POST from one of the box's own buttons (Add or Remove a model, remove an
        image, Check again, Update choices), not Generate: the page comes back with the box
        changed, and nothing starts. With JavaScript these redraw the box on /controls/."""
        return self.is_bound and self.data.get("action", "generate") not in ("generate", "")

    def _sent(self):
        """What the box holds: the data sent, or, for a box a page opens, its initial values."""
        if self.is_bound:
            return self.data
        return MultiValueDict(
            {k: v if isinstance(v, list) else [v] for k, v in self.initial.items()}
        )

    def draft(self) -> Draft:
        """The box as sent, after an Add/Remove model action if there was one, read leniently:
        unknown models, repeats and broken numbers fall back to something drawable."""
        data = self._sent()
        edit = self.is_edit
        models = self.models
        candidates = catalog.default_model_ids(models, len(models), edit=edit)
        compare = data.get("compare") in CHECKED
        selected = [
            m for m in data.getlist("model") if m in models and catalog.usable(models[m], edit=edit)
        ]
        action = data.get("action", "")
        if not compare:
            selected = selected[:1]
        elif action == "add_model" and len(selected) < MAX_COMPARE_MODELS:
            selected.append("")
        elif action.startswith("remove_model:") and len(selected) > 1:
            index = _position(action.removeprefix("remove_model:"), length=len(selected))
            if index is not None:
                del selected[index]
        if compare and len(selected) == 1 and data.get("compare_toggled") == "1":
            selected.append("")  # turning Compare on offers a second picker straight away
        selected = _without_repeats(selected[:MAX_COMPARE_MODELS], candidates, changed=self.changed)
        values = {name: data.get(name, "") for name in CONTROL_VALUES}
        if data.get("attachments_changed") == "1":
            # Images were attached or removed: an edit starts from "keep the input's shape".
            values["aspect_ratio"] = ""
        return Draft(
            prompt=data.get("prompt", ""),
            selected=tuple(selected or candidates[:1]),
            compare=compare,
            count=_count(data.get("count", 1)),
            private=data.get("private") in CHECKED,
            values=values,
            compression=_compression_or_none(data.get("output_compression", "")),
        )

    def checked_errors(self) -> ErrorDict:
        """What is_valid() found; nothing for a form only read to redraw the box (asking for
        `errors` would check it, and greet a model change with "Write a prompt first")."""
        return self._errors if self._errors is not None else ErrorDict()

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
            (
                "moderation",
                "Moderation",
                catalog.MODERATION_LEVELS if controls.moderation_models else (),
            ),
            ("service_tier", "Service tier", controls.service_tiers),
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
        compression = cleaned.get("output_compression") or ""
        cleaned["output_compression"] = None
        if controls.compression and compression:
            try:
                cleaned["output_compression"] = _compression(compression)
            except params.BadParameter as exc:
                self.add_error("output_compression", exc.message)
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
            moderation=c.get("moderation", ""),
            service_tier=c.get("service_tier", ""),
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
    via_api = forms.BooleanField(required=False)
    date_from = ParsedField(parse=partial(params.parse_date, label="“From”"))
    date_to = ParsedField(parse=partial(params.parse_date, label="“To”"))
    who = forms.CharField(required=False, max_length=150)
    board = ParsedField(parse=partial(params.parse_id, what="board"))
    # "board": the board page's lightbox walks the board's order (GalleryQuery.board_order).
    order = forms.ChoiceField(
        required=False,
        choices=[("", "The gallery's"), ("board", "The board's")],
        error_messages={"invalid_choice": "“%(value)s” is not an order the studio knows."},
    )
    aspect = forms.ChoiceField(
        required=False,
        choices=[("", "Any"), *ASPECTS.items()],
        error_messages={"invalid_choice": "“%(value)s” is not an aspect ratio the filter knows."},
    )
    edited = forms.BooleanField(required=False)
    failed = forms.BooleanField(required=False)
    # The page cursor: newest first, the last run id shown; with a search, best match first,
    # the last run's relevance and id.
    before = ParsedField(parse=params.parse_cursor)
    after_rank = ParsedField(parse=params.parse_rank_cursor)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError("“From” is after “To”: swap the dates.")
        searching = bool(cleaned.get("q"))
        if searching and cleaned.get("before") is not None:
            raise forms.ValidationError(
                "That page link is broken: search results go by relevance, not by date "
                "(use the “Older” link at the end of the results)."
            )
        if not searching and cleaned.get("after_rank") is not None:
            raise forms.ValidationError("That page link is broken: it belongs to a search.")
        return cleaned

    def error_message(self) -> str:
        return " ".join(str(e) for errors in self.errors.values() for e in errors)
