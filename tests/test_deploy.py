"""deploy/ ships only what is checked: the systemd units parse (and pass `systemd-analyze verify`
where it exists) and start real management commands with options those commands take; the
Procfile's lines do the same; nginx's example passes `nginx -t` where nginx is installed, else a
structural check (balanced blocks, the live stream unbuffered); every name in the environment
example is a setting the studio reads, and the studio starts with that environment."""

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import get_commands, load_command_class

DEPLOY = Path(settings.BASE_DIR) / "deploy"
UNITS = ["studio-web.service", "studio-worker@.service"]
INSTALL_DIR = "/opt/image-studio"
ENV_FILE = "/etc/image-studio/studio.env"
# Read from the environment by boto3 itself (the S3 client under django-storages).
BOTO3_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL_S3",
}


def unit_sections(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit as INI: sections of (key, value) pairs, repeated keys kept in order."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if header := re.fullmatch(r"\[([A-Za-z]+)\]", line):
            current = sections.setdefault(header.group(1), [])
            continue
        key, sep, value = line.partition("=")
        assert current is not None and sep and re.fullmatch(r"[A-Za-z]+", key), (
            f"{path.name}:{number}: not a key=value line in a section: {raw!r}"
        )
        current.append((key, value.strip()))
    return sections


def check_manage_command(argv: list[str], where: str) -> None:
    """`argv` runs manage.py with a command that exists and options that command accepts."""
    assert argv[0] == "manage.py", f"{where}: expected manage.py, got {argv}"
    name, options = argv[1], argv[2:]
    commands = get_commands()
    assert name in commands, f"{where}: there is no management command {name!r}"
    command = load_command_class(commands[name], name)
    parser = command.create_parser("manage.py", name)
    try:
        parser.parse_args(options)
    except SystemExit:  # argparse's way of saying no
        pytest.fail(f"{where}: `{name}` does not take {options}")


@pytest.mark.parametrize("unit", UNITS)
def test_unit_files_parse_and_run_real_commands(unit):
    sections = unit_sections(DEPLOY / unit)
    assert set(sections) == {"Unit", "Service", "Install"}
    service = dict(sections["Service"])
    assert service["WorkingDirectory"] == INSTALL_DIR
    assert service["EnvironmentFile"] == ENV_FILE
    assert service["User"] and service["Restart"] == "always"
    starts = [value for key, value in sections["Service"] if key in ("ExecStart", "ExecStartPre")]
    assert [key for key, _ in sections["Service"]].count("ExecStart") == 1
    for line in starts:
        program, *argv = shlex.split(line)
        assert program == f"{INSTALL_DIR}/.venv/bin/python", line
        check_manage_command(argv, f"{unit}: {line}")


def test_the_worker_unit_waits_longer_than_the_workers_grace():
    service = dict(unit_sections(DEPLOY / "studio-worker@.service")["Service"])
    assert service["KillSignal"] == "SIGTERM"
    assert float(service["TimeoutStopSec"]) > settings.WORKER_STOP_GRACE_SECONDS + 10


def test_units_pass_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is not installed: the INI check above still ran")
    python = Path(sys.executable)
    names = []
    for unit in UNITS:
        text = (DEPLOY / unit).read_text()
        # Paths of this machine in place of the install's, so the programs exist.
        text = text.replace(f"{INSTALL_DIR}/.venv/bin/python", str(python))
        text = text.replace(INSTALL_DIR, str(settings.BASE_DIR))
        text = text.replace(ENV_FILE, str(DEPLOY / "studio.env.example"))
        name = unit.replace("@.", "@1.")
        (tmp_path / name).write_text(text)
        names.append(str(tmp_path / name))
    done = subprocess.run(
        [analyze, "verify", "--man=no", *names], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_procfile_lines_run_real_commands():
    seen = set()
    for line in (DEPLOY / "Procfile").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        kind, sep, command = line.partition(":")
        assert sep and re.fullmatch(r"[a-z][a-z0-9_-]*", kind), line
        assert kind not in seen
        seen.add(kind)
        for part in command.replace("$PORT", "8000").split("&&"):
            program, *argv = shlex.split(part)
            assert program == "python", part
            check_manage_command(argv, f"Procfile {kind}")
    assert {"web", "worker", "release"} <= seen


def nginx_blocks(text: str) -> dict[str, str]:
    """location → its block's text, after checking braces balance and directives end in ;."""
    depth = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"line {number}: unbalanced '}}'"
        assert line.endswith((";", "{", "}")), f"line {number}: a directive must end in ';'"
    assert depth == 0, "unbalanced '{'"
    return dict(re.findall(r"location\s+([^{]+?)\s*\{([^}]*)\}", text))


def test_nginx_example_is_valid(tmp_path):
    text = (DEPLOY / "nginx-studio.conf").read_text()
    locations = nginx_blocks(text)
    assert "proxy_buffering off;" in locations["/events/"]
    assert all("proxy_pass http://image_studio;" in body for body in locations.values())
    assert re.search(r"upstream image_studio \{\s*server 127\.0\.0\.1:8000;", text)
    assert "proxy_set_header X-Request-ID $request_id;" in text
    assert "X-Forwarded-Proto $scheme" in text
    # The web unit listens where nginx sends.
    assert "--host 127.0.0.1 --port 8000" in (DEPLOY / "studio-web.service").read_text()

    nginx = shutil.which("nginx")
    if not nginx:
        return  # the structural check above is what can run here
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("studio.example.com")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "chain.pem"))
    text = re.sub(
        r"ssl_certificate(_key)?\s+\S+;", rf"ssl_certificate\1 {tmp_path}/chain.pem;", text
    )
    (tmp_path / "studio.conf").write_text(text)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log stderr; events {{}}\n"
        f"http {{ access_log off; include {tmp_path}/studio.conf; }}\n"
    )
    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr


def env_example_names(path: Path) -> list[str]:
    names = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            name, sep, _ = line.partition("=")
            assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", name), raw
            names.append(name)
    return names


def names_the_studio_reads() -> set[str]:
    source = (Path(settings.BASE_DIR) / "studio" / "settings.py").read_text()
    return set(re.findall(r"env_(?:str|bool|int|float|list)\(\s*\"([A-Z0-9_]+)\"", source))


def test_env_example_names_only_settings_the_studio_reads(tmp_path):
    names = env_example_names(DEPLOY / "studio.env.example")
    unknown = set(names) - names_the_studio_reads() - BOTO3_ENVIRONMENT
    assert not unknown, f"deploy/studio.env.example sets what nothing reads: {sorted(unknown)}"
    assert {"DATABASE_URL", "AWS_STORAGE_BUCKET_NAME", "WORKER_PROCESSES", "REDIS_URL"} <= set(
        names
    )

    # The studio starts with it (settings read strictly: a malformed value would stop it).
    env = {
        "PATH": "/usr/bin:/bin",
        **dict(line.split("=", 1) for line in (DEPLOY / "studio.env.example").read_text().splitlines()
               if line.strip() and not line.startswith("#")),
        "STUDIO_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "studio.settings",
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


# Read from the environment for the tests' sake only (a loopback image host), never for people.
TESTS_ONLY = {"GATEWAY_URL_FETCH_ALLOW_PRIVATE"}


def test_every_setting_read_from_the_environment_is_in_the_root_env_example():
    names = set(env_example_names_lenient(Path(settings.BASE_DIR) / ".env.example"))
    missing = names_the_studio_reads() - names - TESTS_ONLY
    assert not missing, f".env.example does not list {sorted(missing)}"


def env_example_names_lenient(path: Path) -> list[str]:
    """Names in the root .env.example, whose lines may carry a trailing comment."""
    return re.findall(r"^([A-Z][A-Z0-9_]*)=", path.read_text(), re.MULTILINE)
