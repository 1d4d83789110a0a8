"""Seeding the gallery with many finished runs, for benchmarks and demos (`manage.py
seed_gallery`): `plan` decides every run and image, `render` draws and writes their files in
worker processes, `store` writes the rows."""
