"""The prompt box as the page draws it, built from the GenerateForm that read it: the same way
for a page, a redraw of the controls, the estimate line, a refused Generate and a link that fills
the box ("Reuse settings", "Edit", a recent prompt)."""

from dataclasses import dataclass
from functools import cached_property

from django.forms.forms import NON_FIELD_ERRORS
from django.forms.utils import ErrorDict

from gallery import catalog, pricing
from gallery.catalog import Controls, ModelSpec
from gallery.edits import Source
from gallery.forms import MAX_COMPARE_MODELS, MAX_IMAGES, Draft, GenerateForm
from team import selectors as team_selectors
from team import services as team_services

DEFAULT_COMPRESSION = 90
# How each choice reads in the prompt box: what it does, not only its name.
MODERATION_LABELS = {"auto": "Auto (standard filtering)", "low": "Low (less strict filtering)"}
SERVICE_TIER_LABELS = {
    "": "Standard",
    "flex": "Flex: cheaper, slower",
    "priority": "Priority: faster, costs more",
}
EDIT_LABELS = {
    "background": "Background",
    "input_fidelity": "Input fidelity",
    "output_format": "Output format",
}


@dataclass(frozen=True)
class PromptBox:
    """Everything the prompt box draws: the models on offer, what is picked and set, problems,
    the price and what the team's limits leave. Made by `from_form`; never changed after."""

    models: dict[str, ModelSpec]
    draft: Draft
    sources: tuple[Source, ...]
    # A field's first problem, once Generate was checked (a redraw shows none).
    errors: dict[str, str]
    # Problems that are not about one field: a refused run, a form that could not be verified.
    problems: tuple[str, ...]
    viewer: object

    @classmethod
    def from_form(cls, form: GenerateForm, *, viewer, message: str = "") -> "PromptBox":
        errors: ErrorDict = form.checked_errors()
        return cls(
            models=form.models,
            draft=form.draft(),
            sources=tuple(form.sources),
            errors={
                name: str(problems[0])
                for name, problems in errors.items()
                if name != NON_FIELD_ERRORS
            },
            problems=tuple(p for p in (message, *errors.get(NON_FIELD_ERRORS, ())) if p),
            viewer=viewer,
        )

    @property
    def is_edit(self) -> bool:
        return bool(self.sources)

    @property
    def specs(self) -> list[ModelSpec]:
        return [self.models[m] for m in self.draft.selected if m in self.models]

    @cached_property
    def controls(self) -> Controls | None:
        specs = self.specs
        return Controls.for_models(specs, edit=self.is_edit) if specs else None

    def _value(self, name: str, offered: tuple[str, ...], default: str) -> str:
        value = self.draft.values.get(name, "")
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

    @property
    def moderation(self) -> str:
        """The moderation level to draw ("auto" unless "low" was picked); "" when no selected
        model takes it."""
        c = self.controls
        if not c or not c.moderation_models:
            return ""
        return self._value("moderation", catalog.MODERATION_LEVELS, "auto")

    @property
    def moderation_choices(self) -> list[tuple[str, str]]:
        return [(level, MODERATION_LABELS[level]) for level in catalog.MODERATION_LEVELS]

    @property
    def service_tier(self) -> str:
        """The service tier to draw: "" is the standard one."""
        c = self.controls
        return self._value("service_tier", c.service_tiers, "") if c else ""

    @property
    def service_tier_choices(self) -> list[tuple[str, str]]:
        """Standard, then the tiers the selected models have ("" when none has any)."""
        c = self.controls
        if not c or not c.service_tiers:
            return []
        return [(tier, SERVICE_TIER_LABELS.get(tier, tier)) for tier in ("", *c.service_tiers)]

    def only_for(self, labels: tuple[str, ...]) -> str:
        """In compare mode, the note for a control only some of the models take ("" if all)."""
        if self.draft.compare and len(labels) < len(self.specs):
            return ", ".join(labels) + " only"
        return ""

    @property
    def moderation_note(self) -> str:
        return self.only_for(self.controls.moderation_models) if self.controls else ""

    @property
    def service_tier_note(self) -> str:
        return self.only_for(self.controls.service_tier_models) if self.controls else ""

    @property
    def edit_fields(self) -> list[dict]:
        """The edit-only selects to draw (background, input fidelity, output format)."""
        c = self.controls
        if not c:
            return []
        return [
            {
                "name": name,
                "label": EDIT_LABELS[name],
                "choices": choices,
                "value": self._value(name, choices, choices[0] if choices else ""),
                "error": self.errors.get(name, ""),
            }
            for name, choices in c.edit_options.items()
        ]

    @property
    def compression(self) -> int:
        compression = self.draft.compression
        return DEFAULT_COMPRESSION if compression is None else compression

    @property
    def max_sources(self) -> int | None:
        limits = [s.max_input_images for s in self.specs if s.accepts_images]
        return min(limits) if limits else None

    @property
    def pickers(self) -> list[dict]:
        """One model picker per selected model, labelled "Model" or "Model 1".. in compare mode."""
        many = self.draft.compare
        return [
            {
                "index": i,
                "value": model_id,
                "label": f"Model {i + 1}" if many else "Model",
                "removable": many and len(self.draft.selected) > 1,
            }
            for i, model_id in enumerate(self.draft.selected)
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
        limit = min(MAX_COMPARE_MODELS, available)
        return self.draft.compare and len(self.draft.selected) < limit

    @property
    def counts(self) -> range:
        return range(1, MAX_IMAGES + 1)

    @cached_property
    def quota(self) -> dict | None:
        """What the person's daily limit and the team's budget leave (None: no limits), looked
        up only when the estimate line is drawn."""
        return team_selectors.quota_hint(user=self.viewer)

    @cached_property
    def estimate(self) -> pricing.Estimate:
        """The catalog's price of the run as set up: each image's, and the total."""
        choice = catalog.Choice(
            aspect_ratio=self.aspect_ratio,
            resolution=self.resolution,
            size=self.size,
            quality=self.quality,
            service_tier=self.service_tier,
        )
        sent = [
            (spec, catalog.request_for(spec, choice, edit=self.is_edit).params)
            for spec in self.specs
        ]
        return pricing.estimate(sent=sent, count=self.draft.count)

    @property
    def budget_refusal(self) -> str:
        """Why the month's budget would refuse this run as set up (the team's own sentence), or
        "" when it would not, or no budget is set."""
        quota = self.quota
        if not quota or quota["budget"] is None:
            return ""
        refusal = team_services.budget_refusal(
            budget=quota["budget"], left=quota["budget_left"], estimate=self.estimate
        )
        return refusal or ""
