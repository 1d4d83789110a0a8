"""Objects the templates render: the prompt box's state and a run laid out in model columns."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.http import QueryDict
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from gallery import catalog, media, permissions, selectors
from gallery.catalog import Controls, ModelSpec
from gallery.forms import MAX_COMPARE_MODELS, MAX_IMAGES
from gallery.models import Generation, Image
from studio import params
from team import services as team_services


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


EDIT_VALUES = ("background", "input_fidelity", "output_format", "output_compression")
CONTROL_VALUES = ("aspect_ratio", "resolution", "size", "quality", *EDIT_VALUES)


@dataclass
class FormState:
    """Everything the prompt box needs to draw itself: selection, controls, values, errors."""

    models: dict[str, ModelSpec]
    selected: list[str]
    compare: bool = False
    prompt: str = ""
    values: dict[str, str] = field(default_factory=dict)
    count: int = 1
    form: object = None
    # A problem that is not about one field (e.g. the form could not be verified).
    message: str = ""
    # Attached input images (edits.Source): with any, the run is an edit.
    sources: list = field(default_factory=list)
    private: bool = False

    @classmethod
    def initial(cls, models: dict[str, ModelSpec], *, sources=()) -> "FormState":
        edit = bool(sources)
        return cls(
            models=models,
            selected=catalog.default_model_ids(models, 1, edit=edit),
            sources=list(sources),
        )

    @classmethod
    def from_generation(cls, generation: Generation, models: dict[str, ModelSpec]) -> "FormState":
        """The prompt box filled with a run's prompt, models and settings ("Reuse settings");
        models no longer offered are left out."""
        selected = [m for m in generation.model_ids if m in models and models[m].generates]
        return cls(
            models=models,
            selected=selected or catalog.default_model_ids(models, 1),
            compare=generation.compare and len(selected) > 1,
            prompt=generation.prompt,
            values={k: str(v) for k, v in generation.settings.items() if v not in (None, "")},
            count=generation.count,
            private=generation.is_private,
        )

    @classmethod
    def from_data(
        cls,
        data,
        models: dict[str, ModelSpec],
        *,
        form=None,
        message: str = "",
        changed: str = "",
        sources=(),
    ) -> "FormState":
        """The prompt box as submitted, after an Add/Remove model action if there was one.

        `changed` is the id of the picker the person just changed (htmx's HX-Trigger): if that
        made two pickers show the same model, the *other* one moves to an unused model.
        """
        edit = bool(sources)
        compare = data.get("compare") in ("on", "true", "1")
        selected = [
            m for m in data.getlist("model") if m in models and catalog.usable(models[m], edit=edit)
        ]
        candidates = catalog.default_model_ids(models, len(models), edit=edit)
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
        selected = _without_repeats(selected[:MAX_COMPARE_MODELS], candidates, changed=changed)
        selected = selected or candidates[:1]
        try:
            count = min(max(int(data.get("count", 1)), 1), MAX_IMAGES)
        except (TypeError, ValueError):
            count = 1
        values = {k: data.get(k, "") for k in CONTROL_VALUES}
        if data.get("attachments_changed") == "1":
            # Images were attached or removed: an edit starts from "keep the input's shape".
            values["aspect_ratio"] = ""
        return cls(
            models=models,
            selected=selected,
            compare=compare,
            prompt=data.get("prompt", ""),
            values=values,
            count=count,
            form=form,
            message=message,
            sources=list(sources),
            private=data.get("private") in ("on", "true", "1"),
        )

    @property
    def is_edit(self) -> bool:
        return bool(self.sources)

    @property
    def specs(self) -> list[ModelSpec]:
        return [self.models[m] for m in self.selected if m in self.models]

    @property
    def controls(self) -> Controls | None:
        specs = self.specs
        return Controls.for_models(specs, edit=self.is_edit) if specs else None

    def _value(self, name: str, offered: tuple[str, ...], default: str) -> str:
        value = self.values.get(name, "")
        return value if value in offered else default

    @property
    def aspect_ratio(self) -> str:
        c = self.controls
        if not c:
            return ""
        # Editing, "auto" keeps the input image's proportions: the natural default.
        default = "auto" if self.is_edit and "auto" in c.aspect_ratios else c.default_aspect_ratio
        return self._value("aspect_ratio", c.aspect_ratios, default)

    @property
    def resolution(self) -> str:
        c = self.controls
        return self._value("resolution", c.resolutions, c.default_resolution) if c else ""

    @property
    def size(self) -> str:
        c = self.controls
        return self._value("size", c.sizes, c.default_size) if c else ""

    @property
    def quality(self) -> str:
        c = self.controls
        return self._value("quality", c.qualities, c.default_quality) if c else ""

    def edit_value(self, name: str) -> str:
        c = self.controls
        offered = c.edit_options.get(name, ()) if c else ()
        return self._value(name, offered, offered[0] if offered else "")

    @property
    def edit_fields(self) -> list[dict]:
        """The edit-only selects to draw (background, input fidelity, output format)."""
        c = self.controls
        labels = {
            "background": "Background",
            "input_fidelity": "Input fidelity",
            "output_format": "Output format",
        }
        if not c:
            return []
        errors = getattr(self.form, "errors", {}) or {}
        return [
            {
                "name": name,
                "label": labels[name],
                "choices": choices,
                "value": self.edit_value(name),
                "error": (errors.get(name) or [""])[0],
            }
            for name, choices in c.edit_options.items()
        ]

    @property
    def compression(self) -> str:
        value = self.values.get("output_compression", "")
        try:
            return str(params.parse_int(value, minimum=0, maximum=100, what="Compression"))
        except params.BadParameter:
            return "90"

    @property
    def max_sources(self) -> int | None:
        limits = [s.max_input_images for s in self.specs if s.accepts_images]
        return min(limits) if limits else None

    @property
    def pickers(self) -> list[dict]:
        """One model picker per selected model, labelled "Model" or "Model 1".. in compare mode."""
        many = self.compare
        return [
            {
                "index": i,
                "value": model_id,
                "label": f"Model {i + 1}" if many else "Model",
                "removable": many and len(self.selected) > 1,
            }
            for i, model_id in enumerate(self.selected)
        ]

    @property
    def model_groups(self) -> list[tuple[str, list[ModelSpec]]]:
        """The models on offer: those that take images while images are attached (edit-only
        models only then), those that generate otherwise."""
        groups: dict[str, list[ModelSpec]] = {}
        for spec in self.models.values():
            if catalog.usable(spec, edit=self.is_edit):
                groups.setdefault(spec.provider or "Other", []).append(spec)
        return list(groups.items())

    @property
    def can_add_model(self) -> bool:
        available = sum(1 for s in self.models.values() if catalog.usable(s, edit=self.is_edit))
        return self.compare and len(self.selected) < min(MAX_COMPARE_MODELS, available)

    @property
    def counts(self) -> range:
        return range(1, MAX_IMAGES + 1)

    # The person's quota status (team.selectors.quota_status), when the view looked it up.
    quota: dict | None = None

    def _planned_images(self) -> list[tuple[ModelSpec, Decimal | None]]:
        """(model, catalog price) for each image the run would queue, as the team's check
        takes them."""
        choice = catalog.Choice(self.aspect_ratio, self.resolution, self.size, self.quality)
        planned = []
        for spec in self.specs:
            params = catalog.request_for(spec, choice, edit=self.is_edit).params
            planned.extend([(spec, catalog.estimated_price(spec, params))] * self.count)
        return planned

    @property
    def estimate(self) -> Decimal | None:
        """The catalog's price for this run as set up, when every selected model has one."""
        prices = [price for _, price in self._planned_images()]
        if None in prices:
            return None
        return sum(prices, Decimal(0))

    @property
    def budget_refusal(self) -> str:
        """Why the month's budget would refuse this run as set up (the team's own sentence), or
        "" when it would not, or no budget is set."""
        quota = self.quota
        if not quota or quota["budget"] is None:
            return ""
        refusal = team_services.budget_refusal(
            budget=quota["budget"], left=quota["budget_left"], images=self._planned_images()
        )
        return refusal or ""


@dataclass
class Column:
    """One model's tiles in a run (compare mode has a column per model)."""

    label: str
    tiles: list[Image]


class RunView:
    """A run as the gallery shows it: header facts, model columns, tiles, polling state."""

    def __init__(self, generation: Generation, *, viewer):
        self.generation = generation
        self.images = list(generation.images.all())
        self.sources = list(generation.sources.all()) if generation.kind == "edit" else []
        self.can_change = permissions.can_change(viewer, generation)

    @property
    def pk(self) -> int:
        return self.generation.pk

    @property
    def columns(self) -> list[Column]:
        by_column: dict[int, list[Image]] = {}
        for image in self.images:
            by_column.setdefault(image.column, []).append(image)
        return [
            Column(label=catalog.label_for(model_id), tiles=by_column.get(index, []))
            for index, model_id in enumerate(self.generation.model_ids)
        ]

    @property
    def pending_ids(self) -> list[int]:
        return [image.pk for image in self.images if image.is_pending]

    @property
    def pending_param(self) -> str:
        return ",".join(str(pk) for pk in self.pending_ids)

    @property
    def poll_interval(self) -> int:
        """Once a second at first; slower for the models that take minutes."""
        age = (timezone.now() - self.generation.created_at).total_seconds()
        if age < 60:
            return 1
        if age < 300:
            return 2
        return 5

    @property
    def done_count(self) -> int:
        return sum(1 for image in self.images if image.is_done)

    @property
    def failed_count(self) -> int:
        return sum(1 for image in self.images if image.can_retry)

    @property
    def total(self) -> int:
        return len(self.images)

    @property
    def cost(self) -> Decimal | None:
        costs = [image.cost for image in self.images if image.cost is not None]
        return sum(costs, Decimal(0)) if costs else None

    @property
    def offline(self) -> bool:
        return any(catalog.is_offline(m) for m in self.generation.model_ids)

    @property
    def settings_summary(self) -> list[str]:
        s = self.generation.settings
        parts = [s.get("aspect_ratio"), s.get("resolution"), s.get("size")]
        if s.get("quality"):
            parts.append(f"{s['quality']} quality")
        count = self.generation.count
        parts.append(
            f"{count} image{'s' if count != 1 else ''}"
            + (" each" if self.generation.compare else "")
        )
        return [p for p in parts if p and p != "auto"]


class GalleryView:
    """One page of the gallery: its runs, whether more exist, and the links that keep filters."""

    def __init__(self, *, runs: list[RunView], has_more: bool, params, query, is_first_page: bool):
        self.runs = runs
        self.has_more = has_more
        self.query = query
        self.is_first_page = is_first_page
        self._params = params

    @classmethod
    def load(
        cls,
        *,
        viewer,
        query: selectors.GalleryQuery | None = None,
        before_id: int | None = None,
        params=None,
    ) -> "GalleryView":
        query = query or selectors.GalleryQuery()
        page = selectors.generations_for_gallery(viewer=viewer, query=query, before_id=before_id)
        runs = [RunView(g, viewer=viewer) for g in page[: selectors.GALLERY_PAGE_SIZE]]
        return cls(
            runs=runs,
            has_more=len(page) > selectors.GALLERY_PAGE_SIZE,
            params=params if params is not None else QueryDict(),
            query=query,
            is_first_page=before_id is None,
        )

    @property
    def is_empty_studio(self) -> bool:
        """Nothing made yet at all (not merely nothing matching a search)."""
        return not self.runs and self.is_first_page and not self.query.is_filtered

    @property
    def filter_params(self) -> str:
        """The current filters as a query string (no cursor), for links that keep them."""
        params = self._params.copy()
        for key in ("before", "reuse", "prompt"):
            params.pop(key, None)
        return params.urlencode()

    @property
    def more_url(self) -> str:
        params = self._params.copy()
        for key in ("reuse", "prompt"):
            params.pop(key, None)
        params["before"] = str(self.runs[-1].pk)
        return f"?{params.urlencode()}"

    def value(self, name: str) -> str:
        return self._params.get(name, "")


def _neighbour(row: tuple[int, str] | None) -> tuple[int | None, str]:
    """(id, file name) of a neighbouring image -> its id and the URL of its original (which the
    lightbox fetches ahead)."""
    if row is None:
        return None, ""
    pk, file_name = row
    return pk, media.image_original_url(pk, file_name)


class ImageView:
    """One image in the lightbox or on its permalink page."""

    def __init__(
        self,
        image: Image,
        *,
        viewer,
        previous: tuple[int, str] | None,
        following: tuple[int, str] | None,
        filters: str,
        in_dialog: bool,
    ):
        self.image = image
        self.generation = image.generation
        self.previous_id, self.previous_original_url = _neighbour(previous)
        self.next_id, self.next_original_url = _neighbour(following)
        self.filters = filters
        self.in_dialog = in_dialog
        self.can_change = permissions.can_change(viewer, image.generation)
        self.edited_from, self.edits = selectors.image_lineage(image=image, viewer=viewer)

    @property
    def query_suffix(self) -> str:
        return f"?{self.filters}" if self.filters else ""

    @property
    def details(self) -> list[tuple[str, str]]:
        image = self.image
        rows = [
            ("Model", image.model_label),
            ("Size", f"{image.width} × {image.height} px"),
            ("File", f"{filesizeformat(image.bytes or 0)} {image.format.upper()}"),
        ]
        if image.latency is not None:
            rows.append(("Took", f"{image.latency:.1f} s"))
        if catalog.is_offline(image.model):
            rows.append(("Cost", "Free (offline renderer)"))
        elif image.cost is not None:
            note = "" if image.cost_from_gateway else " (catalog price)"
            rows.append(("Cost", f"${image.cost:.4f}".rstrip("0").rstrip(".") + note))
        rows.append(("By", self.generation.created_by.get_username()))
        return rows
