"""The migrations match the models, and each app's history is one line (branches merged in git can
each add a migration with the same number: the graph then has two leaves and `migrate` refuses)."""

from django.core.management import call_command


def test_the_models_need_no_new_migration_and_no_app_has_two_leaf_migrations(db):
    # --check exits non-zero when a model change has no migration; conflicting leaves raise CommandError.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
