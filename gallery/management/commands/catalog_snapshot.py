"""Take a snapshot of the gateway's image models from its model package, npm
`@llmgateway/models`, for the catalog's parity test (tests/test_catalog_parity.py):

    ./studio.sh manage catalog_snapshot            # the version the snapshot has now
    ./studio.sh manage catalog_snapshot 1.330.0    # a newer one

It needs npm and node. The package is fetched with `npm pack` into a temporary folder (nothing is
installed), its model list read by node, and the image models (those whose output includes
"image") written to gallery/catalog/gateway_image_models.json with what the catalog keeps of them:
ids, names, aliases, whether an input image is required, and per provider its id, deactivation
date, prices (per request, per image by tier, or per output token with the tokens an image takes
at each tier) and service tiers with their price multipliers. Then run the parity test: what it
names is what to change in gallery/catalog.toml.
"""

import json
import subprocess
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gallery.catalog import CATALOG_PATH

SNAPSHOT_PATH = Path(CATALOG_PATH).parent / "catalog" / "gateway_image_models.json"
PACKAGE = "@llmgateway/models"

DUMP = r"""
const m = await import(process.argv[1]);
const tiers = (provider) => (provider.serviceTiers || []).map((id) => ({
  id,
  multiplier: provider.serviceTierMultipliers?.[id]
    ?? m.getServiceTier(provider.providerId, id)?.multiplier ?? null,
}));
const date = (value) => (value ? new Date(value).toISOString().slice(0, 10) : null);
const models = m.models
  .filter((model) => (model.output || []).includes("image"))
  .map((model) => ({
    id: model.id,
    name: model.name,
    aliases: model.aliases || [],
    image_input_required: Boolean(model.imageInputRequired),
    deactivated_at: date(model.deactivatedAt),
    providers: model.providers.map((p) => ({
      provider: p.providerId,
      external_id: p.externalId,
      deactivated_at: date(p.deactivatedAt),
      request_price: p.requestPrice ?? null,
      image_output_price: p.imageOutputPrice ?? null,
      per_image_price: p.perImagePrice ?? null,
      image_output_tokens: p.imageOutputTokensByResolution ?? null,
      service_tiers: tiers(p),
    })),
  }));
console.log(JSON.stringify(models));
"""


class Command(BaseCommand):
    help = "Snapshot the gateway's image models from npm @llmgateway/models for the parity test."

    def add_arguments(self, parser):
        parser.add_argument("version", nargs="?", help="the package version (default: as now)")

    def handle(self, *, version: str | None, **options) -> None:
        if version is None:
            version = json.loads(SNAPSHOT_PATH.read_text())["version"]
        with tempfile.TemporaryDirectory() as folder:
            try:
                subprocess.run(
                    ["npm", "pack", "--silent", f"{PACKAGE}@{version}"],
                    cwd=folder, check=True, capture_output=True, text=True, timeout=300,
                )  # fmt: skip
                [tarball] = Path(folder).glob("*.tgz")
                subprocess.run(["tar", "xzf", tarball.name], cwd=folder, check=True, timeout=60)
                dumped = subprocess.run(
                    ["node", "--input-type=module", "-e", DUMP,
                     str(Path(folder) / "package" / "dist" / "index.js")],
                    check=True, capture_output=True, text=True, timeout=120,
                )  # fmt: skip
            except (OSError, subprocess.SubprocessError) as exc:
                detail = getattr(exc, "stderr", "") or exc
                raise CommandError(f"Could not read {PACKAGE}@{version}: {detail}") from exc
        models = json.loads(dumped.stdout)
        snapshot = {"package": PACKAGE, "version": version, "image_models": models}
        SNAPSHOT_PATH.write_text(json.dumps(snapshot, indent=1, sort_keys=True) + "\n")
        self.stdout.write(f"{len(models)} image models of {PACKAGE}@{version} -> {SNAPSHOT_PATH}")
