"""Where data lives, and how it gets there.

The data directory is ``--data-dir`` if given, else ``$SEQGRAPH_DATA``, else ``~/.cache/seqgraph``.
Its layout mirrors the public sources (``books/<file>.txt``, ``planetoid/<name>/ind.<name>.*``).
Files are fetched from pinned URLs and checked against their sha256; nothing is fetched when the
file is already there with the right checksum.
"""

import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from .errors import InputError

_UVADLC = (
    "https://raw.githubusercontent.com/uvadlc/uvadlc_practicals_2020/2023a19bd45101086cb8fccb67e1095a296d1dc1/"
    "assignment_2/2_recurrentnns_gnns/code/Part%202/assets/"
)
_PLANETOID = "https://raw.githubusercontent.com/kimiyoung/planetoid/af6abf468a772cc055bec88c52e4d6f51b7c37e3/data/"
_GNN_BENCHMARK = "https://raw.githubusercontent.com/shchur/gnn-benchmark/1e72912a0810cdf27ae54fd589a3b43358a2b161/data/npz/"

# relative path in the data directory -> sha256 of the pinned file
CHECKSUMS = {
    "books/book_EN_democracy_in_the_US.txt": "1ba23c5acbb00b0ffbfe48be30273f5b965eaedca5e8dfce55253e6bb24f2ca5",
    "books/book_EN_grimms_fairy_tails.txt": "e6439bd511820742e842e21b75e89b394d3809eec82ca56b506c39ff39d4a7d6",
    "planetoid/cora/ind.cora.allx": "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543",
    "planetoid/cora/ind.cora.ally": "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71",
    "planetoid/cora/ind.cora.graph": "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d",
    "planetoid/cora/ind.cora.test.index": "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875",
    "planetoid/cora/ind.cora.tx": "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a",
    "planetoid/cora/ind.cora.ty": "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad",
    "planetoid/cora/ind.cora.x": "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab",
    "planetoid/cora/ind.cora.y": "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1",
    "npz/amazon_electronics_photo.npz": "bdb1feb8e6ff42ee44024b04479145029c563fd42fc31bff80af20887ba0439a",
}


def source_url(relpath: str) -> str:
    """The pinned public URL of a file of the data directory."""
    if relpath.startswith("books/"):
        return _UVADLC + relpath.removeprefix("books/")
    if relpath.startswith("planetoid/"):
        return _PLANETOID + relpath.rsplit("/", 1)[1]
    if relpath.startswith("npz/"):
        return _GNN_BENCHMARK + relpath.removeprefix("npz/")
    raise InputError(f"no known source for data file {relpath!r}")


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Resolve the data directory: the argument, else $SEQGRAPH_DATA, else ~/.cache/seqgraph."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("SEQGRAPH_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "seqgraph"


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, relpath: str) -> None:
    """Raise InputError when a file with a known checksum does not match it."""
    expected = CHECKSUMS.get(relpath)
    if expected is not None and sha256(path) != expected:
        raise InputError(f"{path} has the wrong sha256 (expected {expected[:12]}…): corrupt or not the pinned file")


def fetch(relpath: str, root: str | os.PathLike | None = None, url: str | None = None) -> Path:
    """Return the local path of ``relpath`` in the data directory, downloading it if missing.

    The download goes to a temporary file and is renamed into place only after its checksum
    matched, so an interrupted or corrupt download never leaves a bad file behind.
    ``url`` overrides the pinned source (tests use a local server or a file:// mirror).
    """
    path = data_dir(root) / relpath
    if path.exists():
        verify(path, relpath)
        return path
    url = url or source_url(relpath)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, tmp)
        except OSError as e:
            os.unlink(tmp.name)
            raise InputError(f"{relpath} is not in {path.parent} and could not be downloaded from {url}: {e}") from e
    try:
        verify(Path(tmp.name), relpath)
    except InputError:
        os.unlink(tmp.name)
        raise
    os.replace(tmp.name, path)
    return path
