"""Release files at stable URLs under ``/dumps/``: ETag, Last-Modified, 304, HEAD and Range.

Only the files the release's manifest lists are served (so no path can reach
anything else); the ETag is the file's sha256 from the manifest. Each file's media type is
``conneg.file_type``'s, the same as at ``/network/`` for the network files.

A release publishes its dumps gzipped only (``dataset.nt.gz``, ``dataset.ttl.gz``,
``dataset.jsonld.gz``: mapping/release.py), and their plain URLs answer as before: a file
``NAME`` the manifest does not list, whose ``NAME.gz`` it lists with what it decodes to, is
served from ``NAME.gz``, as ``Content-Encoding: gzip`` to a client that accepts gzip (the file's
bytes, its ETag) and decompressed as it is sent to one that does not (the ETag, size and ranges
of the content, from the manifest). Both carry ``Vary: Accept-Encoding``. A release built before,
whose manifest lists the plain files, is served from them.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from flask import Blueprint, Response, current_app, request, send_file
from werkzeug.wsgi import FileWrapper

from endpoint import dump_pieces
from endpoint.conneg import file_type
from endpoint.errors import ProtocolError
from endpoint.headers import mounted
from endpoint.state import server_state

bp = Blueprint("dumps", __name__)

MAX_AGE = 3600  # seconds a client may keep a release file without asking again
GZIP_SUFFIX = ".gz"
DECODED_BLOCK = 256 * 1024  # bytes of decompressed content sent at a time


@bp.route("/dumps/<path:name>", methods=["GET"])
def dump(name: str) -> Response:
    state = server_state()
    files = state.manifest["files"]
    folder = Path(str(current_app.config["RELEASE_DIR"]))
    listed = files.get(name) if name != "manifest.json" else {"sha256": state.release}
    if listed is not None:
        return _file(folder / name, listed["sha256"])
    packed = files.get(name + GZIP_SUFFIX)
    if packed is not None and isinstance(packed.get("decoded"), dict):
        return _gzip_backed(folder / (name + GZIP_SUFFIX), file_type(Path(name).suffix), packed)
    raise ProtocolError(404, f"no file {name!r} in this release; the files are listed in "
                             f"/{mounted('dumps/manifest.json')}")


def _file(path: Path, sha256: str, media: str | None = None) -> Response:
    """A release file as it is on disk (as ``media``, by default the type its name says)."""
    response = send_file(path, mimetype=media or file_type(path.suffix), conditional=True,
                         etag=sha256, max_age=MAX_AGE)
    response.headers["Accept-Ranges"] = "bytes"
    return response


def accepts_gzip() -> bool:
    """Whether the request's Accept-Encoding admits gzip (``x-gzip`` is its old name)."""
    encodings = request.accept_encodings
    return max(encodings["gzip"], encodings["x-gzip"]) > 0


def _gzip_backed(packed: Path, media: str, entry: dict) -> Response:
    """A file published gzipped only, at its plain URL: gzip-encoded if the client accepts
    gzip, else decompressed on the way out."""
    if accepts_gzip():
        response = _file(packed, entry["sha256"], media)
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = _decoded(packed, media, entry)
    response.headers["Vary"] = "Accept-Encoding"
    return response


def _decoded(packed: Path, media: str, entry: dict) -> Response:
    """The content of ``packed``, decompressed as it is sent (never whole in memory), with the
    ETag and size the manifest gives it; a range is served by decompressing from the flush
    point before its start (``dump_pieces.Inflated``), or from the start for a file without."""
    decoded = entry["decoded"]
    points = dump_pieces.flush_points(entry, packed)
    stream = dump_pieces.Inflated(packed, points) if points else gzip.open(packed, "rb")
    try:
        response = Response(FileWrapper(stream, DECODED_BLOCK), mimetype=media,
                            direct_passthrough=True)
        response.content_length = int(decoded["bytes"])
        response.set_etag(str(decoded["sha256"]))
        response.last_modified = packed.stat().st_mtime
        response.cache_control.public = True
        response.cache_control.max_age = MAX_AGE
        return response.make_conditional(request, accept_ranges=True,
                                          complete_length=int(decoded["bytes"]))
    except BaseException:
        stream.close()
        raise
