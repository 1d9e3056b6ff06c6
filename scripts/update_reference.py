#!/usr/bin/env python3
"""Derive ``data/reference/`` from Etalab's *découpage administratif* package tarball.

The build resolves places and public bodies from official data only. This script is
the one way that data enters the repository: it reads the npm package tarball
(``npm pack @etalab/decoupage-administratif@VERSION``), keeps what the build needs and
nothing more, and records where it came from (package, version, vintage, sha256 of the
tarball and of every file written) in ``source.json``. Run it again on the same tarball
and the same files come out; ``tests/test_reference_data.py`` checks that.

Usage: python scripts/update_reference.py TARBALL [--out data/reference]

Written (UTF-8, RFC 4180, sorted by code):
- ``regions.csv``: code, name
- ``departements.csv``: code, name, of_name, region
- ``communes.csv.gz``: code, name, kind, current, department, region, siren, epci, tncc
  (kind as the package says: commune-actuelle, commune-deleguee, commune-associee; current:
  the commune-actuelle a delegated or associated commune belongs to, the commune's own code
  otherwise; epci: the SIREN of the EPCI à fiscalité propre the current commune is a member
  of). Municipal arrondissements (Paris, Lyon, Marseille) are left out: the build does not
  use them.
- ``epci.csv``: siren, name, kind, financing
- ``source.json``: the provenance above.

``tncc`` is INSEE's "type de nom en clair", which says how the name takes "de" (0 de,
1 d', 2 du, 3 de la, 4 des, 5 de l', 6 des, 7 de las, 8 de los); ``of_name`` is derived
from it ("de la Haute-Garonne").
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

PACKAGE = "@etalab/decoupage-administratif"
# The package README's table "Millésimes et versions de package": version -> COG vintage.
VINTAGES = {"6.0.0": 2026, "5.3.0": 2025, "4.1.0": 2024, "3.1.1": 2023, "2.3.1": 2022,
            "1.1.1": 2021}
OF = {0: "de ", 1: "d'", 2: "du ", 3: "de la ", 4: "des ", 5: "de l'", 6: "des ",
      7: "de las ", 8: "de los "}
ARTICLE = {2: "Le ", 3: "La ", 4: "Les ", 5: "L'", 6: "Aux ", 7: "Las ", 8: "Los "}
OUT = Path(__file__).resolve().parent.parent / "data" / "reference"


class SourceError(Exception):
    """The tarball is not the package this script knows how to read."""


def of_name(name: str, tncc: int) -> str:
    """The name after "de": "de la Haute-Garonne", "du Havre", "d'Eure-et-Loir"."""
    article = ARTICLE.get(tncc)
    if article and name.startswith(article):
        name = name[len(article):]
    return OF.get(tncc, "de ") + name


def read_package(tarball: Path) -> tuple[dict, dict[str, list[dict]]]:
    """The package.json and the JSON data files of the tarball, by file stem."""
    data: dict[str, list[dict]] = {}
    manifest = None
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                handle = tar.extractfile(member)
                if member.name == "package/package.json":
                    manifest = json.load(handle)
                elif member.name.startswith("package/data/") and member.name.endswith(".json"):
                    data[Path(member.name).stem] = json.load(handle)
    except (tarfile.TarError, OSError, json.JSONDecodeError) as error:
        raise SourceError(f"{tarball}: not a readable npm package tarball ({error})") from None
    if manifest is None or manifest.get("name") != PACKAGE:
        raise SourceError(f"{tarball}: not the {PACKAGE} package")
    missing = {"communes", "departements", "regions", "epci"} - data.keys()
    if missing:
        raise SourceError(f"{tarball}: data files missing: {', '.join(sorted(missing))}")
    return manifest, data


def csv_text(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(sorted(rows, key=lambda row: str(row[0])))
    return out.getvalue()


def regions(data: dict[str, list[dict]]) -> str:
    return csv_text(["code", "name"], [[r["code"], r["nom"]] for r in data["regions"]])


def departements(data: dict[str, list[dict]]) -> str:
    return csv_text(["code", "name", "of_name", "region"],
                    [[d["code"], d["nom"], of_name(d["nom"], d["typeLiaison"]), d["region"]]
                     for d in data["departements"]])


def epci_of_communes(data: dict[str, list[dict]]) -> dict[str, str]:
    """Current commune code -> the SIREN of its EPCI à fiscalité propre."""
    member_of: dict[str, str] = {}
    for epci in data["epci"]:
        for member in epci["membres"]:
            if member_of.setdefault(member["code"], epci["code"]) != epci["code"]:
                raise SourceError(f"commune {member['code']} is a member of two EPCI: "
                                  f"{member_of[member['code']]} and {epci['code']}")
    return member_of


def communes(data: dict[str, list[dict]]) -> str:
    member_of = epci_of_communes(data)
    rows = []
    for c in data["communes"]:
        if c["type"] == "arrondissement-municipal":
            continue
        current = c.get("chefLieu") or c["code"]
        rows.append([c["code"], c["nom"], c["type"], current, c["departement"], c["region"],
                     c.get("siren", ""), member_of.get(current, ""), c.get("typeLiaison", 0)])
    # a delegated commune may share its code with its current commune: keep both, ordered
    rows.sort(key=lambda row: (row[0], row[2] != "commune-actuelle", row[1]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["code", "name", "kind", "current", "department", "region", "siren",
                     "epci", "tncc"])
    writer.writerows(rows)
    return out.getvalue()


def epci(data: dict[str, list[dict]]) -> str:
    return csv_text(["siren", "name", "kind", "financing"],
                    [[e["code"], e["nom"], e["type"], e.get("modeFinancement", "")]
                     for e in data["epci"]])


def gzipped(text: str) -> bytes:
    """Gzip with no name and no time in the header: the same text, the same bytes."""
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    return out.getvalue()


def derive(tarball: Path) -> dict[str, bytes]:
    """The files to write, by name, source.json included."""
    manifest, data = read_package(tarball)
    version = manifest.get("version", "")
    if version not in VINTAGES:
        raise SourceError(f"{tarball}: version {version!r} has no known vintage "
                          f"(known: {', '.join(VINTAGES)}); add it to VINTAGES from the "
                          "package README's table")
    files = {
        "regions.csv": regions(data).encode("utf-8"),
        "departements.csv": departements(data).encode("utf-8"),
        "communes.csv.gz": gzipped(communes(data)),
        "epci.csv": epci(data).encode("utf-8"),
    }
    source = {
        "package": PACKAGE,
        "version": version,
        "vintage": VINTAGES[version],
        "description": "Code officiel géographique (INSEE) and EPCI à fiscalité propre (DGCL), "
                       "as packaged by Etalab",
        "licence": "Licence Ouverte 2.0 (data), MIT (package code)",
        "tarball": tarball.name,
        "tarball_sha256": hashlib.sha256(tarball.read_bytes()).hexdigest(),
        "files": {name: hashlib.sha256(body).hexdigest() for name, body in sorted(files.items())},
        "command": f"python scripts/update_reference.py {tarball.name}",
    }
    files["source.json"] = (json.dumps(source, indent=2, ensure_ascii=False) + "\n").encode()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tarball", type=Path, help=f"npm pack {PACKAGE}@VERSION")
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write (data/reference)")
    args = parser.parse_args(argv)
    try:
        files = derive(args.tarball)
    except SourceError as error:
        print(f"update_reference: {error}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (args.out / name).write_bytes(body)
        print(f"{args.out / name}: {len(body):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
