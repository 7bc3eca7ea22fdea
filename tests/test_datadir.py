import functools
import hashlib
import http.server
import threading

import pytest

from seqgraph import datadir
from seqgraph.cli import main
from seqgraph.errors import InputError


def test_data_dir_resolution_order(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQGRAPH_DATA", str(tmp_path / "env"))
    assert datadir.data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert datadir.data_dir() == tmp_path / "env"
    monkeypatch.delenv("SEQGRAPH_DATA")
    assert str(datadir.data_dir()).endswith(".cache/seqgraph")


def test_source_urls_are_pinned_commits():
    url = datadir.source_url("planetoid/cora/ind.cora.x")
    assert "af6abf468a772cc055bec88c52e4d6f51b7c37e3" in url and url.endswith("/data/ind.cora.x")
    assert "2023a19bd45101086cb8fccb67e1095a296d1dc1" in datadir.source_url("books/book_EN_grimms_fairy_tails.txt")


def test_mirror_matches_pinned_checksums(shared_data):
    # Citeseer is pinned but not mirrored (its files are downloaded); every other pinned file is in the mirror
    mirrored = {r: d for r, d in datadir.CHECKSUMS.items() if not r.startswith("planetoid/citeseer/")}
    for relpath, digest in mirrored.items():
        assert datadir.sha256(shared_data / relpath) == digest, relpath


@pytest.fixture
def pinned(monkeypatch):
    """A fake pinned file: its bytes and its relative path, registered with its checksum."""
    body = b"a small corpus\n" * 10
    relpath = "books/tiny.txt"
    monkeypatch.setitem(datadir.CHECKSUMS, relpath, hashlib.sha256(body).hexdigest())
    return body, relpath


@pytest.fixture
def local_server(tmp_path):
    """An HTTP server on loopback serving tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_fetch_downloads_from_local_server_and_verifies(pinned, local_server, tmp_path):
    body, relpath = pinned
    www, base = local_server
    (www / "tiny.txt").write_bytes(body)
    path = datadir.fetch(relpath, root=tmp_path / "data", url=f"{base}/tiny.txt")
    assert path.read_bytes() == body
    # Second call finds the file and does not download (the server no longer has it).
    (www / "tiny.txt").unlink()
    assert datadir.fetch(relpath, root=tmp_path / "data", url=f"{base}/tiny.txt") == path


def test_fetch_from_file_mirror_refuses_wrong_checksum(pinned, tmp_path):
    _, relpath = pinned
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"tampered")
    with pytest.raises(InputError, match="wrong sha256"):
        datadir.fetch(relpath, root=tmp_path / "data", url=bad.as_uri())
    assert not (tmp_path / "data").exists()  # no temporary file, nor the folders made for it, left behind


def test_fetch_unreachable_source_is_a_clear_error(pinned, tmp_path):
    _, relpath = pinned
    (tmp_path / "data").mkdir()  # the data directory stays; the folders made for the file go
    with pytest.raises(InputError, match="could not be downloaded"):
        datadir.fetch(relpath, root=tmp_path / "data", url=(tmp_path / "missing.txt").as_uri())
    assert list((tmp_path / "data").iterdir()) == []


def test_a_file_without_checksum_warns_only_once_it_is_there(tmp_path, recwarn):
    relpath = "planetoid/pubmed/ind.pubmed.x"  # no copy could be checked: no pinned sha256
    with pytest.raises(InputError, match="could not be downloaded"):
        datadir.fetch(relpath, root=tmp_path, url=(tmp_path / "missing").as_uri())
    assert not recwarn.list and list(tmp_path.iterdir()) == []
    (tmp_path / "mirror").write_bytes(b"x")
    with pytest.warns(datadir.UnverifiedData, match="used unverified"):
        datadir.fetch(relpath, root=tmp_path, url=(tmp_path / "mirror").as_uri())


def test_existing_file_with_wrong_checksum_is_refused(pinned, tmp_path):
    _, relpath = pinned
    target = tmp_path / "data" / relpath
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the pinned file")
    with pytest.raises(InputError, match="wrong sha256"):
        datadir.fetch(relpath, root=tmp_path / "data")


def test_citeseer_and_cora_files_are_all_pinned():
    suffixes = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
    for name in ("cora", "citeseer"):
        assert all(len(datadir.CHECKSUMS[f"planetoid/{name}/ind.{name}.{s}"]) == 64 for s in suffixes)


def test_a_data_directory_file_without_a_pin_is_used_with_a_one_line_warning(tmp_path, capsys):
    folder = tmp_path / "planetoid" / "pubmed"
    folder.mkdir(parents=True)
    for s in ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index"):
        (folder / f"ind.pubmed.{s}").write_bytes(b"not a pickle")
    code = main(["graph", "train", "--dataset", "pubmed", "--data-dir", str(tmp_path), "--epochs", "1",
                 "--seeds", "0", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    warnings = [line for line in err.splitlines() if "warning:" in line]
    assert warnings and all(line.endswith("it is used unverified") for line in warnings), err
    assert "Traceback" not in err
