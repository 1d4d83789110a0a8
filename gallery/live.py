"""What an open page is sent when something it shows changes (the live stream's content).

From the events after the page's last one (Event, written with each change), the run.html
partials are drawn as things are now:
- a run that appeared or changed (created, shared, restored): the whole run, which the page
  puts in place (static/js/live.js), or its removal once it is deleted;
- images whose status changed: their tiles, the run's status line and its poller, out of band.

A `Changes` is read and drawn once for every open page of a process at the same point (the
stream shares it), then each person gets the parts they may see (selectors.may_see, the
gallery's own rule: someone else's private run is never sent) in the version for them (the
author's and admins' with Delete and Retry; Share link for whoever may share it). The forms
carry no CSRF field: these parts only ever reach a page through JavaScript, and htmx sends the
page's token as a header.

Everything is drawn from the rows as they are when read, so several changes to one tile are
drawn once, and a page that missed some (a dropped stream) is brought up to date by the next
message."""

import threading

from django.template.loader import render_to_string

from gallery import selectors
from gallery.models import Event
from gallery.presenters import RunView

RUN = "gallery/run.html"


class Changes:
    """The events after `after`, up to `last_id`, with the runs they touch, drawn on demand.
    `reload`: the page missed more than can be caught up and should reload."""

    def __init__(self, *, after: int, last_id: int, reload: bool = False, events=(), runs=()):
        self.after = after
        self.last_id = last_id
        self.reload = reload
        self.whole = {e.run_id for e in events if e.kind != Event.Kind.IMAGE}
        self.images: dict[int, set[int]] = {}
        for event in events:
            if event.kind == Event.Kind.IMAGE and event.run_id not in self.whole:
                self.images.setdefault(event.run_id, set()).add(event.image_id)
        self.runs = {run.pk: run for run in runs}
        self._drawn: dict[tuple, str] = {}
        self._lock = threading.Lock()

    def html_for(self, viewer) -> str:
        """What `viewer` is sent (empty: nothing they see changed)."""
        parts = []
        for pk in sorted(self.whole):
            run = self.runs.get(pk)
            if run is None:
                continue
            if selectors.may_see(viewer, run):
                parts.append(self._draw(run, viewer, "run"))
            elif selectors.saw_before_deletion(viewer, run):
                parts.append(f'<article id="run-{pk}" hx-swap-oob="delete"></article>')
        for pk in sorted(self.images):
            run = self.runs.get(pk)
            if run is not None and selectors.may_see(viewer, run):
                parts.append(self._draw(run, viewer, "live"))
        return "".join(parts)

    def _draw(self, run, viewer, partial: str) -> str:
        view = RunView(run, viewer=viewer)
        key = (run.pk, partial, view.can_change, view.can_share)
        with self._lock:
            drawn = self._drawn.get(key)
        if drawn is None:
            changed = [image for image in view.images if image.pk in self.images.get(run.pk, ())]
            context = {
                "run": view,
                "images": changed,
                "actions_change": view.actions_change(changed),
            }
            drawn = render_to_string(f"{RUN}#{partial}", context)
            with self._lock:
                self._drawn[key] = drawn
        return drawn


def changes_after(*, after: int, limit: int, catching_up: bool) -> Changes:
    """The changes after event `after` (at most `limit` events), read now.

    `catching_up`: a page has just (re)connected. If it missed more than `limit` events, or
    events it missed were already pruned, it is told to reload rather than sent part of the
    picture."""
    if catching_up and after and not selectors.event_exists(event_id=after):
        return Changes(after=after, last_id=Event.objects.newest_id(), reload=True)
    events = selectors.events_after(after=after, limit=limit + 1 if catching_up else limit)
    if not events:
        return Changes(after=after, last_id=after)
    if catching_up and len(events) > limit:
        return Changes(after=after, last_id=Event.objects.newest_id(), reload=True)
    runs = selectors.runs_with_images(run_ids={event.run_id for event in events})
    return Changes(after=after, last_id=events[-1].pk, events=events, runs=runs)
