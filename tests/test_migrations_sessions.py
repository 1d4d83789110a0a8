"""Upgrading to the rate-limited backend keeps people signed in."""

import importlib

import pytest
from django.apps import apps
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

migration = importlib.import_module("team.migrations.0002_sessions_use_rate_limited_backend")


@pytest.mark.django_db
def test_a_session_made_with_the_old_backend_still_signs_in(user):
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = migration.OLD
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    client = Client()
    client.cookies["sessionid"] = store.session_key
    assert client.get("/").status_code == 302  # the old backend is not configured: signed out

    migration.forwards(apps, None)

    assert SessionStore(store.session_key)[BACKEND_SESSION_KEY] == migration.NEW
    assert client.get("/").status_code == 200
