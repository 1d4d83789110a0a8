"""Settings read from the environment: defaults that follow each other, and strict refusals.

Each case imports the settings module in a fresh interpreter, as start-up does.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def gateway_settings(tmp_path, **env) -> subprocess.CompletedProcess:
    code = (
        "import studio.settings as s; "
        "print(s.GATEWAY_CALL_DEADLINE, s.GATEWAY_MODELS_TIMEOUT, s.GATEWAY_MAX_RESPONSE_BYTES)"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean | {"STUDIO_DATA_DIR": str(tmp_path)} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_gateway_limits_default_to_the_documented_values(tmp_path):
    result = gateway_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["630.0", "3.0", str(48 * 1024 * 1024)]


def test_the_call_deadline_follows_a_raised_read_timeout(tmp_path):
    result = gateway_settings(tmp_path, GATEWAY_READ_TIMEOUT="900")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "930.0"


def test_a_call_deadline_below_the_read_timeout_stops_start_up(tmp_path):
    result = gateway_settings(tmp_path, GATEWAY_CALL_DEADLINE="300")
    assert result.returncode != 0
    assert "GATEWAY_CALL_DEADLINE must be at least 600.0; got 300.0." in result.stderr


def storage_settings(tmp_path, **env) -> subprocess.CompletedProcess:
    code = (
        "import json, studio.settings as s; print(json.dumps(s.STORAGES['default'], default=list))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean | {"STUDIO_DATA_DIR": str(tmp_path)} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_files_go_to_the_media_folder_unless_a_bucket_is_named(tmp_path):
    result = storage_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"BACKEND": "django.core.files.storage.FileSystemStorage"}


def test_a_bucket_name_switches_files_to_private_s3_objects(tmp_path):
    result = storage_settings(
        tmp_path,
        AWS_STORAGE_BUCKET_NAME="studio-images",
        AWS_S3_ENDPOINT_URL="http://127.0.0.1:9000",
        AWS_S3_REGION_NAME="eu-west-1",
        AWS_S3_ADDRESSING_STYLE="path",
        AWS_LOCATION="/team-a/",
        AWS_S3_READ_TIMEOUT="7",
    )
    assert result.returncode == 0, result.stderr
    storage = json.loads(result.stdout)
    assert storage["BACKEND"] == "gallery.bucket.BucketStorage"
    options = storage["OPTIONS"]
    assert options["bucket_name"] == "studio-images"
    assert options["endpoint_url"] == "http://127.0.0.1:9000"
    assert options["region_name"] == "eu-west-1" and options["addressing_style"] == "path"
    assert options["location"] == "team-a"
    assert options["default_acl"] is None  # the bucket's default: private to its owner
    assert options["querystring_auth"] is True  # a URL, if ever made, is never an open one
    assert options["timeouts"] == [5.0, 7.0, 3]


def test_a_malformed_storage_timeout_stops_start_up_with_its_name(tmp_path):
    result = storage_settings(
        tmp_path, AWS_STORAGE_BUCKET_NAME="studio-images", AWS_S3_MAX_ATTEMPTS="many"
    )
    assert result.returncode != 0
    assert "AWS_S3_MAX_ATTEMPTS must be a whole number" in result.stderr
