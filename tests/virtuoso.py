"""A throw-away Virtuoso (Debian's virtuoso-opensource) on 127.0.0.1, loaded with a release.

Used by the remote-store tests and the query benchmark: a real SPARQL 1.1
endpoint of another make, to check that the remote backend gives the same
answers as the embedded store and to compare speeds.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from harness import free_port

VIRTUOSO = shutil.which("virtuoso-t")
ISQL = shutil.which("isql-vt")
GRAPH = "https://w3id.org/senacs-kg/dataset"

INI = """[Database]
DatabaseFile = {db}/virtuoso.db
ErrorLogFile = {db}/virtuoso.log
LockFile = {db}/virtuoso.lck
TransactionFile = {db}/virtuoso.trx
xa_persistent_file = {db}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
MaxCheckpointRemap = 2000
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {db}/virtuoso-temp.db
TransactionFile = {db}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
DisableTcpSocket = 0
MaxClientConnections = 20
CheckpointInterval = 60
CaseMode = 2
DirsAllowed = ., {data}
NumberOfBuffers = {buffers}
MaxDirtyBuffers = {dirty}
MaxQueryMem = 1G
ThreadsPerQuery = 2
AsyncQueueMaxThreads = 10

[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = /var/lib/virtuoso-opensource-7/vsp
MaxClientConnections = 20
ServerThreads = 20
EnabledDavVSP = 0
Charset = UTF-8

[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryCostEstimationTime = 0
MaxQueryExecutionTime = 60
DefaultQuery = SELECT * WHERE {{ ?s ?p ?o }} LIMIT 1
"""


def available() -> bool:
    return VIRTUOSO is not None and ISQL is not None


class Virtuoso:
    """``with Virtuoso(workdir, dataset_dir) as v: v.endpoint`` — started, loaded, stopped."""

    def __init__(self, workdir: Path, data_dir: Path, dump: str = "dataset.nt.gz",
                 buffers: int = 170_000) -> None:
        self.workdir, self.data_dir, self.dump = workdir, data_dir, dump
        self.sql_port, self.http_port = free_port(), free_port()
        self.endpoint = f"http://127.0.0.1:{self.http_port}/sparql"
        self.buffers = buffers
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Virtuoso:
        self.workdir.mkdir(parents=True, exist_ok=True)
        ini = self.workdir / "virtuoso.ini"
        ini.write_text(INI.format(db=self.workdir, sql_port=self.sql_port,
                                  http_port=self.http_port, data=self.data_dir.resolve(),
                                  buffers=self.buffers, dirty=self.buffers * 3 // 4),
                       encoding="utf-8")
        self.proc = subprocess.Popen([VIRTUOSO, "+foreground", "+configfile", str(ini)],
                                     cwd=self.workdir, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self._wait()
        self.isql(f"ld_dir('{self.data_dir.resolve()}', '{self.dump}', '{GRAPH}');"
                  "rdf_loader_run(); checkpoint;")
        return self

    def _wait(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (self.workdir / "virtuoso.log")
                raise RuntimeError("virtuoso exited: " + (log.read_text()[-2000:]
                                                          if log.exists() else ""))
            try:
                with urlopen(self.endpoint + "?query=ASK%7B%7D", timeout=2):
                    return
            except (URLError, OSError):
                time.sleep(0.3)
        raise RuntimeError("virtuoso did not start")

    def isql(self, commands: str) -> str:
        run = subprocess.run([ISQL, str(self.sql_port), "dba", "dba", f"exec={commands}"],
                             capture_output=True, text=True, timeout=3600, check=True)
        if "Error" in run.stdout or "*** Error" in run.stderr:
            raise RuntimeError(run.stdout + run.stderr)
        return run.stdout

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
