"""Sessions made before the rate-limited backend name Django's ModelBackend, which is no longer
configured: without this, everyone would be signed out once by the upgrade."""

from django.db import migrations

OLD = "django.contrib.auth.backends.ModelBackend"
NEW = "team.backends.RateLimitedModelBackend"


def forwards(apps, schema_editor):
    from django.contrib.auth import BACKEND_SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    Session = apps.get_model("sessions", "Session")
    store = SessionStore()
    for session in Session.objects.all().iterator():
        try:
            data = store.decode(session.session_data)
        except Exception:  # noqa: S112 - an unreadable session is signed out anyway
            continue
        if data.get(BACKEND_SESSION_KEY) == OLD:
            data[BACKEND_SESSION_KEY] = NEW
            Session.objects.filter(pk=session.pk).update(session_data=store.encode(data))


class Migration(migrations.Migration):
    dependencies = [
        ("team", "0001_initial"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
