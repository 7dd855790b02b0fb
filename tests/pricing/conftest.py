"""The pricing library is pure numpy; its tests need no Django.

The project-wide ``tests/conftest.py`` has session-wide autouse fixtures that touch
``django.conf.settings``.  When these tests run without the Django plugin
(``pytest tests/pricing -p no:django``) nothing configures the settings, so bare
default settings are configured here; with pytest-django (``DJANGO_SETTINGS_MODULE``
set) this file does nothing.
"""

from __future__ import annotations

import os

try:
    from django.conf import settings
except ImportError:  # pragma: no cover - Django absent: nothing to configure
    pass
else:
    if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
        settings.configure()
