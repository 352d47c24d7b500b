from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A Parley account. Custom from the first migration so profile fields can grow without a model swap."""

    display_name = models.CharField(max_length=150, blank=True)
    department = models.CharField(max_length=100, blank=True)
    job_title = models.CharField(max_length=100, blank=True)

    def __str__(self) -> str:
        return self.username

    @property
    def name_to_show(self) -> str:
        return self.display_name or self.get_full_name() or self.username
