from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "bastion.audit"
