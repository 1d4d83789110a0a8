"""An S3-compatible bucket as the studio's file storage (django-storages' S3Storage), set up by
studio/settings.py when `AWS_STORAGE_BUCKET_NAME` is set.

What it changes in S3Storage, for gallery/files.py:
- one boto3 client for all threads and for every storage made with the same settings (clients
  are thread-safe; S3Storage makes a session and a resource per thread, ~0.1-0.2 s of CPU each,
  and the worker stores images from a pool of threads);
- a write is one PutObject (S3Storage goes through s3transfer's thread pool per file, which cost
  more than the request itself for images of a few hundred KB);
- `open_stream(name)`: the object's body as it arrives (S3Storage's own files download the
  whole object into memory before the first byte is read);
- `errors` and `is_missing`: what botocore raises when the bucket fails, and which of those
  mean "no such object".
Objects are private: written with no ACL (the bucket's default, owner only), never given a
public URL; the studio hands them to the browser itself, after its permission check.
"""

import os
import threading

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from storages.backends.s3 import S3Storage
from storages.utils import clean_name, is_seekable

_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}
_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


class BucketStorage(S3Storage):
    errors = (BotoCoreError, ClientError)

    def get_default_settings(self) -> dict:
        return {**super().get_default_settings(), "timeouts": None}

    def __init__(self, **options):
        # (connect seconds, read seconds, attempts): every call fails within about
        # attempts x (connect + read) instead of hanging on a bucket that does not answer.
        timeouts = options.pop("timeouts", None)
        # Storages with the same settings share a client (None: this one makes its own).
        self._client_key = None
        if timeouts is not None and options.get("client_config") is None:
            connect, read, attempts = timeouts
            options["client_config"] = Config(
                connect_timeout=connect,
                read_timeout=read,
                retries={"max_attempts": attempts, "mode": "standard"},
                s3={"addressing_style": options.get("addressing_style")},
                signature_version=options.get("signature_version"),
            )
            self._client_key = (
                tuple(timeouts),
                *(
                    options.get(name)
                    for name in (
                        "endpoint_url",
                        "region_name",
                        "addressing_style",
                        "signature_version",
                        "access_key",
                        "secret_key",
                        "security_token",
                        "session_profile",
                        "use_ssl",
                        "verify",
                    )
                ),
            )
        super().__init__(**options)
        self._client = None

    @property
    def client(self):
        """The boto3 S3 client every thread of the process shares."""
        if self._client is None:
            with _clients_lock:
                client = _clients.get(self._client_key) if self._client_key else None
                if client is None:
                    client = self._create_session().client(
                        "s3",
                        region_name=self.region_name,
                        use_ssl=self.use_ssl,
                        endpoint_url=self.endpoint_url,
                        config=self.client_config,
                        verify=self.verify,
                    )
                    if self._client_key:
                        _clients[self._client_key] = client
                self._client = client
        return self._client

    def _save(self, name, content):
        cleaned = clean_name(name)
        key = self._normalize_name(cleaned)
        params = self._get_write_parameters(key, content)
        if is_seekable(content):
            content.seek(0, os.SEEK_SET)
        self.client.put_object(Bucket=self.bucket_name, Key=key, Body=content, **params)
        return cleaned

    def delete(self, name):
        try:
            self.client.delete_object(Bucket=self.bucket_name, Key=self.key(name))
        except ClientError as exc:
            if not self.is_missing(exc):
                raise

    def key(self, name: str) -> str:
        """The object key a stored name has in the bucket (under `location`)."""
        return self._normalize_name(clean_name(name))

    def open_stream(self, name: str):
        """(body, size): the object's body to read in pieces, and its length."""
        answer = self.client.get_object(Bucket=self.bucket_name, Key=self.key(name))
        return answer["Body"], answer.get("ContentLength")

    @staticmethod
    def is_missing(exc: BaseException) -> bool:
        if not isinstance(exc, ClientError):
            return False
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status == 404 or str(error.get("Code")) in _MISSING_CODES
