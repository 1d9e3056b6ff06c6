"""Release files at stable URLs under ``/dumps/``: ETag, Last-Modified, 304, HEAD and Range.

Only the files the release's manifest lists are served (so no path can reach
anything else); the ETag is the file's sha256 from the manifest. Each file's media type is
``conneg.file_type``'s, the same as at ``/network/`` for the network files.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, send_file

from endpoint.conneg import file_type
from endpoint.errors import ProtocolError
from endpoint.headers import mounted
from endpoint.state import server_state

bp = Blueprint("dumps", __name__)



@bp.route("/dumps/<path:name>", methods=["GET"])
def dump(name: str) -> Response:
    state = server_state()
    files = state.manifest["files"]
    listed = files.get(name) if name != "manifest.json" else {"sha256": state.release}
    if listed is None:
        raise ProtocolError(404, f"no file {name!r} in this release; the files are listed in "
                                 f"/{mounted('dumps/manifest.json')}")
    path = Path(str(current_app.config["RELEASE_DIR"])) / name
    response = send_file(path, mimetype=file_type(path.suffix), conditional=True, etag=listed["sha256"],
                         max_age=3600)
    response.headers["Accept-Ranges"] = "bytes"
    return response
