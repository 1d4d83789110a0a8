"""Being split into modules: see the next commit."""

from gallery.gateway.images import *  # noqa: F403
