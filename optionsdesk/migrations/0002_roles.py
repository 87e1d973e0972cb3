"""The role groups of `optionsdesk.roles`: viewer, researcher, operator, admin."""

from django.db import migrations

ROLE_GROUPS = ("viewer", "researcher", "operator", "admin")


def groups_create(apps, schema_editor):  # type: ignore[no-untyped-def]
    group = apps.get_model("auth", "Group")
    for name in ROLE_GROUPS:
        group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("optionsdesk", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(groups_create, migrations.RunPython.noop)]
