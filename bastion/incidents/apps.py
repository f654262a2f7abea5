from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "bastion.incidents"
    verbose_name = "Incidents"
