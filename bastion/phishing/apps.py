from django.apps import AppConfig


class PhishingConfig(AppConfig):
    name = "bastion.phishing"
    verbose_name = "Phishing simulation"
