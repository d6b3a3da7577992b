"""Loads the destinations, their prefixes and the country lists from usage/data/ (what is missing only)."""

from types import SimpleNamespace

from django.db import migrations

from usage.services.destinations import load_destinations


def load(apps, schema_editor):
    load_destinations(
        models=SimpleNamespace(
            Destination=apps.get_model("usage", "Destination"),
            DestinationPrefix=apps.get_model("usage", "DestinationPrefix"),
            CountryList=apps.get_model("usage", "CountryList"),
        )
    )


class Migration(migrations.Migration):
    dependencies = [("usage", "0003_destinations_country_lists_rate_cards")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
