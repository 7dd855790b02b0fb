"""Both configuration modes load from the environment alone, and production settings are safe."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'db': settings.DATABASES['default']['ENGINE'], 'broker': settings.CELERY_BROKER_URL, "
    "'layer': settings.CHANNEL_LAYERS['default']['BACKEND'], 'eager': getattr(settings, 'CELERY_TASK_ALWAYS_EAGER', False), "
    "'debug': settings.DEBUG}))"
)


def _settings(**env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "HTTPS")}
    base.update(env, DJANGO_SETTINGS_MODULE="dealer.settings")
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=base, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_embedded_default_uses_sqlite_memory_broker_and_in_memory_layer() -> None:
    s = _settings()
    assert s["db"] == "django.db.backends.sqlite3"
    assert s["broker"] == "memory://"
    assert s["layer"] == "channels.layers.InMemoryChannelLayer"
    assert s["eager"] is False


def test_services_mode_uses_postgresql_and_redis() -> None:
    s = _settings(DATABASE_URL="postgres://postgres@127.0.0.1:5432/dealer", REDIS_URL="redis://127.0.0.1:6379/3",
                  SECRET_KEY="x" * 60)
    assert s["db"] == "django.db.backends.postgresql"
    assert s["broker"] == "redis://127.0.0.1:6379/3"
    assert s["layer"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert s["debug"] is False


def test_secret_key_is_required_when_debug_is_off() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL")}
    env.update(DEBUG="0", DJANGO_SETTINGS_MODULE="dealer.settings")
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode != 0
    assert "SECRET_KEY must be set" in out.stderr


def test_check_deploy_is_clean_with_production_settings() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DEBUG="0", SECRET_KEY="k" * 20 + "Zq7!#pLm2@vX9$wR4%tY6^uI8&oP0*aS1(dF3)gH5_jK", HTTPS="1",
               ALLOWED_HOSTS="desk.example.com")
    out = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                         env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr + out.stdout
    assert "no issues" in out.stdout


def test_a_refused_page_is_logged_in_one_line_and_a_server_error_keeps_its_traceback(book, caplog) -> None:
    import logging

    from django.test import Client as HttpClient

    from dealer.log_filters import ClientErrorsWithoutTraceback

    http = HttpClient()
    assert http.login(username="rm1", password="demo")
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert http.get("/desk/book/").status_code == 403
    refused = [r for r in caplog.records if r.name == "django.request"]
    assert refused and all(r.exc_info is None for r in refused)
    assert "Traceback" not in caplog.text and "/desk/book/" in caplog.text
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        crash = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error", None,
                                  sys.exc_info())
    crash.status_code = 500
    assert ClientErrorsWithoutTraceback().filter(crash) and crash.exc_info is not None
