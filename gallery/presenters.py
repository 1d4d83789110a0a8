"""Objects the templates render: a run laid out in model columns, a gallery page, an image.
The prompt box has its own module, gallery/prompt_box.py."""

from dataclasses import dataclass
from decimal import Decimal

from django.http import QueryDict
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from gallery import catalog, media, permissions, selectors
from gallery.models import Image, Run


@dataclass
class Column:
    """One model's images in a run (compare mode has a column per model)."""

    label: str
    images: list[Image]


class RunView:
    """A run as the gallery shows it: header facts, model columns, images, polling state.

    The run's own facts (pk, prompt, created_by, created_at, is_private, compare) read the same
    here as on the Run, so a template can be given either."""

    def __init__(self, run: Run, *, viewer):
        self.run = run
        self.images = list(run.images.all())
        self.sources = list(run.sources.all()) if run.kind == Run.Kind.EDIT else []
        self.can_change = permissions.can_change(viewer, run)
        self.can_share = permissions.can_share(viewer, run)

    @property
    def pk(self) -> int:
        return self.run.pk

    @property
    def prompt(self) -> str:
        return self.run.prompt

    @property
    def created_by(self):
        return self.run.created_by

    @property
    def created_at(self):
        return self.run.created_at

    @property
    def is_private(self) -> bool:
        return self.run.is_private

    @property
    def compare(self) -> bool:
        return self.run.compare

    @property
    def api_token_name(self) -> str:
        return self.run.api_token_name

    @property
    def columns(self) -> list[Column]:
        by_column: dict[int, list[Image]] = {}
        for image in self.images:
            by_column.setdefault(image.column, []).append(image)
        return [
            Column(label=catalog.label_for(model_id), images=by_column.get(index, []))
            for index, model_id in enumerate(self.run.model_ids)
        ]

    @property
    def compare_query(self) -> str:
        """For a compare run, "images=4,9" for the compare viewer: each model's first finished
        image, when two or more models have one; else ""."""
        if not self.run.compare:
            return ""
        firsts = [
            next((image.pk for image in column.images if image.is_done), None)
            for column in self.columns
        ]
        ids = [str(pk) for pk in firsts if pk is not None][:4]
        return f"images={','.join(ids)}" if len(ids) >= 2 else ""

    def actions_change(self, changed) -> bool:
        """Whether news of these images changes the run's buttons: Download all, Compare and
        Share link come with a column's first finished image, Cancel goes once nothing is
        pending. Updates redraw the buttons only then: a redraw loses the keyboard's place in
        them and closes an open "Download all as"."""
        if not self.pending_ids:
            return True
        firsts = {
            next((image.pk for image in column.images if image.is_done), None)
            for column in self.columns
        }
        return any(image.pk in firsts for image in changed)

    @property
    def pending_ids(self) -> list[int]:
        return [image.pk for image in self.images if image.is_pending]

    @property
    def pending_param(self) -> str:
        return ",".join(str(pk) for pk in self.pending_ids)

    @property
    def poll_interval(self) -> int:
        """Once a second at first; slower for the models that take minutes."""
        age = (timezone.now() - self.run.created_at).total_seconds()
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
        return sum(1 for image in self.images if image.can_retry and not image.is_cancelled)

    @property
    def cancelled_count(self) -> int:
        return sum(1 for image in self.images if image.is_cancelled)

    @property
    def total(self) -> int:
        return len(self.images)

    @property
    def cost(self) -> Decimal | None:
        costs = [image.cost for image in self.images if image.cost is not None]
        return sum(costs, Decimal(0)) if costs else None

    @property
    def offline(self) -> bool:
        return any(catalog.is_offline(m) for m in self.run.model_ids)

    @property
    def settings_summary(self) -> list[str]:
        s = self.run.settings
        parts = [s.get("aspect_ratio"), s.get("resolution"), s.get("size")]
        if s.get("quality"):
            parts.append(f"{s['quality']} quality")
        count = self.run.count
        parts.append(
            f"{count} image{'s' if count != 1 else ''}" + (" each" if self.run.compare else "")
        )
        return [p for p in parts if p and p != "auto"]


class GalleryView:
    """One page of the gallery: its runs, whether more exist, and the links that keep filters."""

    def __init__(
        self,
        *,
        runs: list[RunView],
        has_more: bool,
        params,
        query,
        is_first_page: bool,
        last_read: Run | None = None,
    ):
        self.runs = runs
        self.has_more = has_more
        self.query = query
        self.is_first_page = is_first_page
        self._params = params
        # Where the next page starts after: the last run read, shown or not.
        self.last_read = last_read or (runs[-1].run if runs else None)

    @classmethod
    def load(
        cls,
        *,
        viewer,
        query: selectors.GalleryQuery | None = None,
        before_id: int | None = None,
        after_rank: tuple[int, int] | None = None,
        params=None,
    ) -> "GalleryView":
        query = query or selectors.GalleryQuery()
        page = selectors.runs_for_gallery(
            viewer=viewer, query=query, before_id=before_id, after_rank=after_rank
        )
        shown = page[: selectors.GALLERY_PAGE_SIZE]
        # A run whose every image was deleted has nothing left to show (they are in the Trash):
        # left off the page here, which costs the query nothing; the next page still starts
        # after the last run read.
        runs = [RunView(run, viewer=viewer) for run in shown]
        return cls(
            runs=[view for view in runs if view.images],
            has_more=len(page) > selectors.GALLERY_PAGE_SIZE,
            params=params if params is not None else QueryDict(),
            query=query,
            is_first_page=before_id is None and after_rank is None,
            last_read=shown[-1] if shown else None,
        )

    @property
    def is_empty_studio(self) -> bool:
        """Nothing made yet at all (not merely nothing matching a search)."""
        return (
            not self.runs
            and self.is_first_page
            and not self.has_more
            and not self.query.is_filtered
        )

    @property
    def filter_params(self) -> str:
        """The current filters as a query string (no cursor), for links that keep them."""
        params = self._params.copy()
        for key in ("before", "after_rank", "reuse", "prompt"):
            params.pop(key, None)
        return params.urlencode()

    @property
    def more_url(self) -> str:
        params = self._params.copy()
        for key in ("before", "after_rank", "reuse", "prompt"):
            params.pop(key, None)
        last = self.last_read
        if self.query.q:  # best match first: the last run's relevance and id
            params["after_rank"] = f"{last.search_score}-{last.pk}"
        else:
            params["before"] = str(last.pk)
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

    FORMAT_LABELS = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP"}

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
        self.run = image.run
        self.previous_id, self.previous_original_url = _neighbour(previous)
        self.next_id, self.next_original_url = _neighbour(following)
        self.filters = filters
        self.in_dialog = in_dialog
        self.can_change = permissions.can_change(viewer, image.run)
        self.can_share = permissions.can_share(viewer, image.run)
        self.edited_from, self.edits = selectors.image_lineage(image=image, viewer=viewer)

    @property
    def query_suffix(self) -> str:
        return f"?{self.filters}" if self.filters else ""

    @property
    def download_formats(self) -> list[tuple[str, str]]:
        """ "Download as" choices: the formats the original is not already in."""
        return [(f, label) for f, label in self.FORMAT_LABELS.items() if f != self.image.format]

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
        rows.append(("By", self.run.created_by.get_username()))
        return rows
