"""`manage.py load_demo`: every app's demo, in the order of INSTALLED_APPS (billing first: the others
build on its organizations and people). An app has a demo when it has a `load_<app label>_demo`
command; the site does not need to know what each one loads. Safe to run twice, as each demo is."""

from django.apps import apps
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand


def demo_commands() -> list[str]:
    available = get_commands()
    names = (f"load_{config.label}_demo" for config in apps.get_app_configs())
    return [name for name in names if name in available]


class Command(BaseCommand):
    help = "Load the demo data of every app (organizations, people, money, usage). Safe to run twice."

    def handle(self, *args, **options):
        for name in demo_commands():
            call_command(name, stdout=self.stdout, stderr=self.stderr, verbosity=options["verbosity"])
