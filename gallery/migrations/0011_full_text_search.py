"""Full-text search over prompts and revised prompts (gallery.selectors reads it).

SQLite: an FTS5 table `gallery_search` (Porter stemming over unicode61 words, diacritics
folded) kept in step with gallery_run.prompt and gallery_image.revised_prompt by triggers. A
run's prompt is row -run.id, an image's revised prompt row +image.id, so each trigger finds its
row by rowid. PostgreSQL: GIN indexes on the same to_tsvector('english', …) expressions the
search filters on. Other databases get neither (and search matches nothing)."""

from django.db import migrations, models

SQLITE = [
    "CREATE VIRTUAL TABLE gallery_search USING fts5("
    "body, run_id UNINDEXED, tokenize = 'porter unicode61 remove_diacritics 2')",
    "INSERT INTO gallery_search (rowid, body, run_id) SELECT -id, prompt, id FROM gallery_run",
    "INSERT INTO gallery_search (rowid, body, run_id)"
    " SELECT id, revised_prompt, run_id FROM gallery_image WHERE revised_prompt != ''",
    "CREATE TRIGGER gallery_search_run_insert AFTER INSERT ON gallery_run BEGIN"
    " INSERT INTO gallery_search (rowid, body, run_id) VALUES (-new.id, new.prompt, new.id); END",
    "CREATE TRIGGER gallery_search_run_update AFTER UPDATE OF prompt ON gallery_run BEGIN"
    " UPDATE gallery_search SET body = new.prompt WHERE rowid = -new.id; END",
    "CREATE TRIGGER gallery_search_run_delete AFTER DELETE ON gallery_run BEGIN"
    " DELETE FROM gallery_search WHERE rowid = -old.id; END",
    "CREATE TRIGGER gallery_search_image_insert AFTER INSERT ON gallery_image"
    " WHEN new.revised_prompt != '' BEGIN"
    " INSERT INTO gallery_search (rowid, body, run_id)"
    " VALUES (new.id, new.revised_prompt, new.run_id); END",
    "CREATE TRIGGER gallery_search_image_update AFTER UPDATE OF revised_prompt ON gallery_image"
    " BEGIN DELETE FROM gallery_search WHERE rowid = old.id;"
    " INSERT INTO gallery_search (rowid, body, run_id)"
    " SELECT new.id, new.revised_prompt, new.run_id WHERE new.revised_prompt != ''; END",
    "CREATE TRIGGER gallery_search_image_delete AFTER DELETE ON gallery_image BEGIN"
    " DELETE FROM gallery_search WHERE rowid = old.id; END",
]
SQLITE_UNDO = [
    *(
        f"DROP TRIGGER IF EXISTS gallery_search_{table}_{event}"
        for table in ("run", "image")
        for event in ("insert", "update", "delete")
    ),
    "DROP TABLE IF EXISTS gallery_search",
]
POSTGRESQL = [
    "CREATE INDEX IF NOT EXISTS gallery_run_prompt_search"
    " ON gallery_run USING gin (to_tsvector('english', prompt))",
    "CREATE INDEX IF NOT EXISTS gallery_image_revised_prompt_search"
    " ON gallery_image USING gin (to_tsvector('english', revised_prompt))",
]
POSTGRESQL_UNDO = [
    "DROP INDEX IF EXISTS gallery_run_prompt_search",
    "DROP INDEX IF EXISTS gallery_image_revised_prompt_search",
]


def _run(statements_for):
    def run(apps, schema_editor):
        for statement in statements_for.get(schema_editor.connection.vendor, ()):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("gallery", "0010_image_cancelled")]

    operations = [
        migrations.CreateModel(
            name="SearchRow",
            fields=[
                ("id", models.BigIntegerField(db_column="rowid", primary_key=True, serialize=False)),
                ("body", models.TextField()),
                ("run_id", models.BigIntegerField()),
            ],
            options={"db_table": "gallery_search", "managed": False},
        ),
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            _run({"sqlite": SQLITE_UNDO, "postgresql": POSTGRESQL_UNDO}),
        )
    ]
