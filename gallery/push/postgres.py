"""Several machines on PostgreSQL: LISTEN/NOTIFY on the studio's own database.

Announcing is one `SELECT pg_notify(...)` on the connection the change was made on (after its
commit); each web process keeps one extra connection that LISTENs (psycopg's async connection,
on its event loop).
"""

from collections.abc import Callable

import psycopg
from django.db import connections
from psycopg import sql


class PostgresBackend:
    def __init__(
        self, *, channel: str, alias: str = "default", params: dict | None = None, connection=None
    ):
        """By default both ends use Django's database `alias`: its connection to announce, its
        settings to listen. `connection` (anything with a DB-API cursor) and `params` (psycopg's
        connection keywords) point them at another database."""
        self.channel = channel
        self.alias = alias
        self._params = params
        self._connection = connection

    def send(self, event_id: int) -> None:
        connection = self._connection or connections[self.alias]
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [self.channel, str(event_id)])

    def listen_params(self) -> dict:
        if self._params is not None:
            return dict(self._params)
        params = connections[self.alias].get_connection_params()
        # Django's synchronous cursor class and type adapters are not for an async connection.
        for key in ("cursor_factory", "context", "prepare_threshold"):
            params.pop(key, None)
        return params

    async def listen(self, wake: Callable[[int], None]) -> None:
        async with await psycopg.AsyncConnection.connect(
            **self.listen_params(), autocommit=True
        ) as listener:
            await listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            async for note in listener.notifies():
                if note.payload.isdigit():
                    wake(int(note.payload))
