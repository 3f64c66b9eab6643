from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "autodoctor.accounts"
    label = "accounts"
    verbose_name = "Accounts"
