from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "bastion.jobs"
