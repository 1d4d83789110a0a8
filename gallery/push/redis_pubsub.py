"""Several machines on any database: Redis pub/sub on REDIS_URL (redis-py).

Announcing publishes the newest event id on the channel; each web process subscribes with one
connection (redis.asyncio, on its event loop)."""

from collections.abc import Callable

import redis
import redis.asyncio


class RedisBackend:
    def __init__(self, *, url: str, channel: str):
        self.url = url
        self.channel = channel
        self._client = None

    def send(self, event_id: int) -> None:
        if self._client is None:
            # One client per process: it keeps a small pool of connections, thread-safe.
            self._client = redis.Redis.from_url(
                self.url, socket_timeout=5, socket_connect_timeout=5
            )
        self._client.publish(self.channel, str(event_id))

    async def listen(self, wake: Callable[[int], None]) -> None:
        client = redis.asyncio.Redis.from_url(self.url, socket_connect_timeout=5)
        try:
            async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    data = message.get("data")
                    if isinstance(data, bytes) and data.isdigit():
                        wake(int(data))
        finally:
            await client.aclose()
