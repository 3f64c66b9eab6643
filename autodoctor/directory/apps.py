from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "autodoctor.directory"
    verbose_name = "Find a mechanic"
