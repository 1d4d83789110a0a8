"""A run is called a run everywhere: the model `Generation` becomes `Run` (table gallery_run), the
foreign keys `generation` on Image and EditSource become `run` (columns run_id), and a person's
runs are `user.runs`. Rows keep their ids.

The two unique constraints name the renamed field, so they are taken off before the rename and
put back after it: a rename does not update a constraint's field names, and SQLite rebuilds the
table around it. Django renames the content type and its permissions ("Can add run") with the
model, when `migrate` runs."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("gallery", "0005_upload_fetching_links"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="image", name="image_unique_slot"),
        migrations.RemoveConstraint(model_name="editsource", name="edit_source_slot"),
        migrations.RenameModel(old_name="Generation", new_name="Run"),
        migrations.RenameField(model_name="image", old_name="generation", new_name="run"),
        migrations.RenameField(model_name="editsource", old_name="generation", new_name="run"),
        migrations.AlterField(
            model_name="run",
            name="created_by",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="runs",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="image",
            constraint=models.UniqueConstraint(
                fields=("run", "column", "position"), name="image_unique_slot"
            ),
        ),
        migrations.AddConstraint(
            model_name="editsource",
            constraint=models.UniqueConstraint(fields=("run", "position"), name="edit_source_slot"),
        ),
    ]
