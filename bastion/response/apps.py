from django.apps import AppConfig


class ResponseConfig(AppConfig):
    name = "bastion.response"
    verbose_name = "Incident response plan"
