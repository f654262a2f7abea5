from django.apps import AppConfig


class SystemsConfig(AppConfig):
    name = "bastion.systems"
    verbose_name = "Business systems"
