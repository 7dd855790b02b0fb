"""The dealer desk: Django project and the trading desk apps."""
from .celery import app as celery_app

__all__ = ["celery_app"]
