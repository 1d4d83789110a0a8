"""The file storage the tests run on, and looking into it.

By default each test stores files in its own media folder. When the environment names a bucket
(`AWS_STORAGE_BUCKET_NAME`, as CI's second pass sets it, with moto's server as the S3 API), every
test stores them in that bucket instead, each in its own folder (`location`), so the whole suite
runs against S3 too. Tests that need a bucket whatever the environment (tests/test_files_s3.py)
use the `bucket` fixture: the loopback S3 server of tests/s3_server.py, with faults on call.
"""

import uuid
from pathlib import Path

import boto3
from botocore.config import Config
from django.conf import settings as django_settings
from django.core.files.storage import default_storage

TEST_KEY = "test"  # moto takes any credentials


def bucket_options(settings) -> dict | None:
    """The default storage's bucket options, or None for a media folder."""
    options = settings.STORAGES["default"].get("OPTIONS") or {}
    return options if options.get("bucket_name") else None


def env_bucket_configured() -> bool:
    """Whether the environment put the suite's files in a bucket (CI's S3 pass)."""
    return bucket_options(django_settings) is not None


def use_bucket(settings, *, bucket: str, endpoint_url: str | None, **extra) -> str:
    """Point the default storage at `bucket`, in a folder of its own; that folder's name."""
    base = settings.STORAGES["default"]
    options = dict(base.get("OPTIONS") or {}) if base.get("OPTIONS") else {}
    location = f"tests/{uuid.uuid4().hex[:12]}"
    options.update(
        bucket_name=bucket,
        endpoint_url=endpoint_url,
        location=location,
        default_acl=None,
        file_overwrite=True,
        **extra,
    )
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "gallery.bucket.BucketStorage", "OPTIONS": options},
    }
    return location


def s3_client(endpoint_url: str | None, **credentials):
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
        **credentials,
    )


def ensure_bucket(client, name: str) -> None:
    try:
        client.create_bucket(Bucket=name)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    except client.exceptions.BucketAlreadyExists:
        pass


def stored_names() -> list[str]:
    """Every file in the test's storage, by the name the studio stored it under, sorted."""
    options = bucket_options(django_settings)
    if options is None:
        root = Path(django_settings.MEDIA_ROOT)
        if not root.exists():
            return []
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    prefix = f"{options['location'].strip('/')}/" if options.get("location") else ""
    client = default_storage.connection.meta.client
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=options["bucket_name"], Prefix=prefix
    )
    return sorted(item["Key"][len(prefix) :] for page in pages for item in page.get("Contents", []))


def is_stored(name: str) -> bool:
    return bool(name) and default_storage.exists(name)
