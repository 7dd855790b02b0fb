from django.db import models  # noqa: F401  (rollups arrive with the reports issue)
