# Conversations and runs remember the API key that opened or started them (issue 11, defects 1 and 6):
# a key's conversation belongs to the key and its end user, and a run acts with the key's rights.
# Existing rows keep api_key empty: they stay with the person recorded as their user (a key's
# conversation before this change recorded the key's creator), and their end users keep their ids.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_initial"),
        ("conversations", "0004_message_files"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="api_key",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="accounts.apikey",
            ),
        ),
        migrations.AddField(
            model_name="run",
            name="api_key",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="accounts.apikey",
            ),
        ),
    ]
