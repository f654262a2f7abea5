from django.apps import AppConfig


class AwarenessConfig(AppConfig):
    name = "bastion.awareness"
    verbose_name = "Awareness programme"
