"""The query workers themselves cannot reach the network: SERVICE sent straight to the store,
past the guard, reaches nothing, and the client learns only that it was refused."""

from __future__ import annotations

import itertools
import multiprocessing
import socket

import pyoxigraph as ox
import pytest
from conftest import dump_lines
from ssrf_variants import MARKER, Listener, all_variants

from endpoint.store import EmbeddedStore, QueryError, QueryFailed, QueryRefused, prepare_store

BASE = "https://w3id.org/senacs-kg/"


@pytest.fixture(scope="module")
def bare_store(release_dir, tmp_path_factory):
    """The embedded store with no guard in front: only the sandbox stands in the way.

    It holds the seed's first 40 triples: enough rows for each variant's ``?a ?b ?c`` to reach
    its SERVICE. Over the whole seed (3,340 triples), Oxigraph sometimes plans the UNION
    variants to stream every row of the other branch first. Each then took 0.5 s, 12 s in all,
    depending on the worker process.
    """
    store_dir = tmp_path_factory.mktemp("sandbox") / "store"
    with dump_lines(release_dir) as dump:
        lines = "".join(itertools.islice(dump, 40))
    filled = ox.Store(str(store_dir))
    filled.load(lines.encode(), format=ox.RdfFormat.N_TRIPLES)
    filled.flush()
    del filled
    store = EmbeddedStore(store_dir, BASE, workers=2, timeout=20)
    yield store
    store.close()


def test_service_past_the_guard_is_refused_by_the_kernel(bare_store, listener):
    with pytest.raises(QueryRefused) as refused:
        bare_store.query(f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{listener.port}/> "
                         "{ ?m ?n ?k } }")
    assert "cannot reach any other service" in str(refused.value)
    assert str(listener.port) not in str(refused.value)
    assert listener.connections == []


def test_no_generated_variant_reaches_the_listener_from_a_worker(bare_store, listener):
    outcomes = {"refused": 0, "other": 0}
    for text in all_variants(listener.port):
        try:
            answer = bare_store.query(text)
        except (QueryRefused, QueryFailed):  # no socket, or no name lookup: nothing reached
            outcomes["refused"] += 1
            continue
        except QueryError:  # malformed, or a SERVICE with an unbound variable
            outcomes["other"] += 1
            continue
        assert MARKER.encode() not in answer.payload
        outcomes["other"] += 1
    assert outcomes["refused"] >= 150, outcomes  # most variants do try to call out
    assert listener.connections == []
    # and the workers still answer ordinary queries afterwards
    count = bare_store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    assert b'"n"' in count.payload


def _confined_child(conn) -> None:
    from endpoint import sandbox

    sandbox.confine()
    results = {}
    for name, family in (("inet", socket.AF_INET), ("inet6", socket.AF_INET6),
                         ("netlink", socket.AF_NETLINK), ("packet", socket.AF_PACKET)):
        try:
            socket.socket(family, socket.SOCK_DGRAM if family != socket.AF_PACKET
                          else socket.SOCK_RAW).close()
            results[name] = "opened"
        except PermissionError:
            results[name] = "refused"
        except OSError as err:
            results[name] = f"error {err.errno}"
    for name, make in (("unix", lambda: socket.socket(socket.AF_UNIX).close()),
                       ("socketpair", lambda: [s.close() for s in socket.socketpair()])):
        try:
            make()
            results[name] = "opened"
        except PermissionError:  # a local resolver daemon (nscd…) would be a way out too
            results[name] = "refused"
    conn.send(results)  # the pipe made before the filter still works


def test_a_confined_process_opens_no_network_socket_of_any_family():
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_confined_child, args=(child,))
    proc.start()
    assert parent.poll(30)
    results = parent.recv()
    proc.join(10)
    assert results == {"inet": "refused", "inet6": "refused", "netlink": "refused",
                       "packet": "refused", "unix": "refused", "socketpair": "refused"}


def test_with_an_allow_list_a_worker_reaches_only_the_listed_endpoint(release_dir,
                                                                      tmp_path_factory):
    allowed, forbidden = Listener(), Listener()
    store_dir = tmp_path_factory.mktemp("federated") / "store"
    prepare_store(release_dir, store_dir, BASE)
    store = EmbeddedStore(store_dir, BASE, workers=1, timeout=20,
                          service_allowlist=[f"http://127.0.0.1:{allowed.port}/sparql"])
    try:
        answer = store.query(f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{allowed.port}/sparql>"
                             " { ?m ?n ?k } }")
        assert MARKER.encode() in answer.payload
        for text in all_variants(forbidden.port)[:60]:  # past the guard, straight to the worker
            try:
                answer = store.query(text)
            except (QueryRefused, QueryFailed, QueryError):
                continue
            assert MARKER.encode() not in answer.payload
        assert forbidden.connections == []
        assert len(allowed.connections) == 1
    finally:
        store.close()
        allowed.close()
        forbidden.close()
