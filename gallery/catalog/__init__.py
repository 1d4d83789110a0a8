"""Being split into modules: see the next commit."""

from gallery.catalog.specs import *  # noqa: F403
from gallery.catalog.specs import _size_sort_key  # noqa: F401
