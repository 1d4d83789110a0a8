"""What a process the tests start (the worker, the web server) needs to share the test's file
storage: the test's own media folder or bucket folder (its database: tests.browser's
children_database_url)."""


def child_storage_env(settings) -> dict[str, str]:
    """MEDIA_ROOT, and when the files are in a bucket, the bucket and this test's folder in it."""
    # An empty bucket name means the media folder, whatever the test process's environment says.
    env = {"MEDIA_ROOT": str(settings.MEDIA_ROOT), "AWS_STORAGE_BUCKET_NAME": ""}
    options = settings.STORAGES["default"].get("OPTIONS", {})
    if bucket := options.get("bucket_name"):
        connect, read, attempts = options.get("timeouts") or (5.0, 20.0, 3)
        env.update(
            AWS_STORAGE_BUCKET_NAME=bucket,
            AWS_S3_ENDPOINT_URL=options.get("endpoint_url") or "",
            AWS_S3_REGION_NAME=options.get("region_name") or "",
            AWS_S3_ADDRESSING_STYLE=options.get("addressing_style") or "",
            AWS_LOCATION=options.get("location") or "",
            AWS_S3_CONNECT_TIMEOUT=str(connect),
            AWS_S3_READ_TIMEOUT=str(read),
            AWS_S3_MAX_ATTEMPTS=str(attempts),
        )
        if options.get("access_key"):
            env["AWS_ACCESS_KEY_ID"] = options["access_key"]
            env["AWS_SECRET_ACCESS_KEY"] = options.get("secret_key") or ""
    return env
