"""`vidserve weights list|pull|make-tiny`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.settings import Settings

if TYPE_CHECKING:
    from pipelines.weights import WeightsLocator


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("weights", help="list, download or build model weights")
    wsub = p.add_subparsers(dest="weights_command", required=True)
    ls = wsub.add_parser("list", help="catalog models and which are present locally")
    ls.add_argument("--weights-dir", type=Path)
    ls.add_argument("--json", action="store_true",
                    help="every catalog entry (present or not) with its resolved defaults, as JSON")
    ls.set_defaults(func=run_list)
    pl = wsub.add_parser("pull", help="download a model from the Hugging Face Hub (needs internet)")
    pl.add_argument("model")
    pl.add_argument("--revision", help="branch, tag or commit (default: the catalog's)")
    pl.add_argument("--weights-dir", type=Path)
    pl.set_defaults(func=run_pull)
    mt = wsub.add_parser("make-tiny", help="build the tiny random-weight demo/test models")
    mt.add_argument("models", nargs="*", help="tiny model ids (default: all)")
    mt.add_argument("--force", action="store_true", help="rebuild even if present")
    mt.add_argument("--weights-dir", type=Path)
    mt.set_defaults(func=run_make_tiny)


def _weights_dir(args: argparse.Namespace) -> Path:
    return Path(args.weights_dir or Settings().weights_dir)

_SHORT_MODES = {"text-to-video": "t2v", "image-to-video": "i2v", "first-last-frame": "flf", "video-to-video": "v2v"}


def run_list(args: argparse.Namespace) -> int:
    from pipelines.weights import WeightsLocator

    settings = Settings()
    locator = WeightsLocator(_weights_dir(args), settings.model_paths)
    if args.json:
        print(json.dumps(listing(locator), indent=2, ensure_ascii=False))
        return 0
    rows = [("MODEL", "FAMILY", "MODES", "PRESENT", "WHERE")]
    for entry in locator.catalog.entries():
        loc = locator.find(entry.id)
        modes = ",".join(_SHORT_MODES.get(m.value, m.value) for m in entry.modes)
        where = str(loc.path) if loc else "make-tiny" if entry.tiny else (
            entry.hub_repo or f"{entry.base_model} + " + ", ".join(f"{b.repo}:{b.file}" for b in entry.bundled_loras))
        if loc and loc.extra.get("bundled_loras"):
            where += " + " + ", ".join(b["path"] for b in loc.extra["bundled_loras"])
        rows.append((entry.id, entry.family, modes, "yes" if loc else "no", where))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4])
    return 0


def listing(locator: WeightsLocator) -> dict[str, Any]:
    """What ``weights list --json`` prints: the catalog entries as ``GET /v1/models`` shows them
    (``pipelines.core.catalog.ModelInfo``), each with whether and where its weights are present."""
    from pipelines.core.catalog import ModelInfo

    data = []
    for entry in locator.catalog.entries():
        loc = locator.find(entry.id)
        weights = None if loc is None else {"path": str(loc.path), "source": loc.source, "revision": loc.revision}
        data.append(ModelInfo.of(entry).model_dump(mode="json") | {"present": loc is not None, "weights": weights})
    return {"object": "list", "data": data}


def run_pull(args: argparse.Namespace) -> int:
    from pipelines.pull import pull

    try:
        path = pull(args.model, _weights_dir(args), args.revision)
    except Exception as exc:  # network, auth, disk: report plainly, no traceback for a CLI user
        print(f"error: pull {args.model}: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"{args.model} ready at {path}")
    return 0


def run_make_tiny(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from pipelines.tiny import make_tiny, tiny_ids

    known = tiny_ids()  # builds the catalog: once, not once per requested id
    ids = args.models or known
    unknown = [m for m in ids if m not in known]
    if unknown:
        print(f"error: not tiny models: {', '.join(unknown)}; choose from {', '.join(known)}", file=sys.stderr)
        return 2
    root = _weights_dir(args)
    for model_id in tqdm(ids, desc="tiny models", unit="model"):
        make_tiny(model_id, root, force=args.force)
    print(f"built {len(ids)} tiny models in {root}")
    return 0
