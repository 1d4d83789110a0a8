"""Being split into modules: see the next commit."""

from tests.fake_gateway.server import *  # noqa: F403
