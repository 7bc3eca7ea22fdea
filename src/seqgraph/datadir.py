"""Where data lives, and how it gets there.

The data directory is ``--data-dir`` if given, else ``$SEQGRAPH_DATA``, else ``~/.cache/seqgraph``.
Its layout mirrors the public sources (``books/<file>.txt``, ``planetoid/<name>/ind.<name>.*``,
``tu/<NAME>/<NAME>_*.txt``, ``npz/<name>.npz``).
Files are fetched from pinned URLs and checked against their sha256; nothing is fetched when the
file is already there with the right checksum.
"""

import contextlib
import hashlib
import os
import shutil
import urllib.request
import warnings
from pathlib import Path

from .atomic import replacing
from .errors import InputError, require_regular_file

_UVADLC = (
    "https://raw.githubusercontent.com/uvadlc/uvadlc_practicals_2020/2023a19bd45101086cb8fccb67e1095a296d1dc1/"
    "assignment_2/2_recurrentnns_gnns/code/Part%202/assets/"
)
_PLANETOID = "https://raw.githubusercontent.com/kimiyoung/planetoid/af6abf468a772cc055bec88c52e4d6f51b7c37e3/data/"
_GNN_BENCHMARK = "https://raw.githubusercontent.com/shchur/gnn-benchmark/1e72912a0810cdf27ae54fd589a3b43358a2b161/data/npz/"
# The TUDataset collection (Morris et al. 2020): one zip per dataset, whose members are pinned by their sha256 below.
_TU = "https://www.chrsmrrs.com/graphkerneldatasets/"

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
    "planetoid/citeseer/ind.citeseer.allx": "2ac30345d95c9ec933a817ee0bdd6a5f077f8c184a20e696910192d534414668",
    "planetoid/citeseer/ind.citeseer.ally": "f704b2d986dde6c2669934de1f3ae5696a6cf9455c0f6b2646a2d135ea0a1c95",
    "planetoid/citeseer/ind.citeseer.graph": "d79a4ef9d3e7169aee8946145f6b7306e35bc79bffad26346cfb94e10e9912a7",
    "planetoid/citeseer/ind.citeseer.test.index": "2af990671580b6b2df5d158d1038f8292e30c9cd821b5453f399659b25b723d4",
    "planetoid/citeseer/ind.citeseer.tx": "539a8906a2da97628d212f2fdd668c109a8b3f0d36574b59e5d3fd5b5303da21",
    "planetoid/citeseer/ind.citeseer.ty": "55e5bd1ba1e733a04598753ad1a8d57957f4b8f89e74519f41f4f4938767e4ce",
    "planetoid/citeseer/ind.citeseer.x": "d20de19150741e555de0ed037195630fc194114ebc7fd72ced62810148aa22f6",
    "planetoid/citeseer/ind.citeseer.y": "8ba87e515d8e3ee3cf52f6d2c5b86aa73f11ecad825a808455209ec26cd54924",
    "tu/ENZYMES/ENZYMES_A.txt": "5553c84f8f562f3e199dfd27192174f485e85c44c1357661098668937a739cbf",
    "tu/ENZYMES/ENZYMES_graph_indicator.txt": "95ba0fa47eba6f02e6b754a215dc66d5b49de3f45f57a128514301a8d7ed5f46",
    "tu/ENZYMES/ENZYMES_graph_labels.txt": "04743e08967e61e65cdacbb90f8df6ee53742b3d2e7b84675b85ebac70506856",
    "tu/ENZYMES/ENZYMES_node_attributes.txt": "305a8fc3b12f79fb844ef3374d6a3c8ceeb4887dd4f86bbfe37932c4c5434e7b",
    "tu/ENZYMES/ENZYMES_node_labels.txt": "8263eb9b64efa231a5886343483ccfc0342f2407014763a8f738fd51c32ce770",
    "tu/ENZYMES/README.txt": "32d5fef501200221a2c0e1af3366797fa443ab8f490231c5fb4a8719e1df48cf",
    "tu/IMDB-BINARY/IMDB-BINARY_A.txt": "23c8964bab82f81469271186d721131714a265d0ca8c44ae048118da1d0c4092",
    "tu/IMDB-BINARY/IMDB-BINARY_graph_indicator.txt":
        "415cc3ba25b8c647dcf34d3de034f675ee070616f3b803be939cb26773489f26",
    "tu/IMDB-BINARY/IMDB-BINARY_graph_labels.txt": "63a44411fd6342b9c4429828c16e144a2a11ef5244e25bb60f0ffa8b3ee2ffce",
    "tu/MUTAG/MUTAG_A.txt": "d9656ca7493f3445d737c711710bb36fd432dddd1c0ea32e1d4713c86ebd28e2",
    "tu/MUTAG/MUTAG_edge_labels.txt": "4669ce755075ff86c3240709345745886400908fa637a49310459b9c267b3e56",
    "tu/MUTAG/MUTAG_graph_indicator.txt": "7d520a4d6c7961c0cdeabe076d8fe27e795b6d373485c9a2b744987e560a2056",
    "tu/MUTAG/MUTAG_graph_labels.txt": "a1518ea39ba3426bd42f57396b9c4baffe68e9adc718caeeab0119c6591a5f2c",
    "tu/MUTAG/MUTAG_node_labels.txt": "678f429965490e84dd27713017538c995fc05d1621beac910848b600015ee863",
    "tu/MUTAG/README.txt": "66de65e4826e112482ec680bbbdf7c0af56d826ce935c110786d130b79b76b06",
    "tu/NCI1/NCI1_A.txt": "2c028eda59a5fe96e2265a63d9ac236901bd9a7dc658498be13cd704a703076d",
    "tu/NCI1/NCI1_graph_indicator.txt": "ffe5acfa754b057d5ce0dc725c5aadb631628161886cc040d38c719635257dc5",
    "tu/NCI1/NCI1_graph_labels.txt": "fae44681e70113f496256ae87eaac33b7836e3a97fe8e023933b84fde6a5c8a2",
    "tu/NCI1/NCI1_node_labels.txt": "dc0a22b6cbff0c939de00373e823977ba32b358f560e4288d7602f7b51407ee2",
    "tu/NCI1/README.txt": "1866d918409a22531ef00ff7b0f72200c3a06722342c23c5e3299cebb5cd8757",
    "tu/PROTEINS/PROTEINS_A.txt": "4c4b33e272fc95cac6d27ed6d5d12b9a852c8610e91fff59f8f0dbdd5a20df67",
    "tu/PROTEINS/PROTEINS_graph_indicator.txt": "8d4ff1e852a5c28561e9bffb44cf9490bc552b13a3b6156dd12dc7f44e9afc4a",
    "tu/PROTEINS/PROTEINS_graph_labels.txt": "c0ef9810c440775252872318d0c8adc385588e14bc4c47a2c34aa96ee3c7cdcd",
    "tu/PROTEINS/PROTEINS_node_attributes.txt": "54eef829abb37e458a5fbf3a3c581e48e5810e220463c2cd951856b9ceb08f07",
    "tu/PROTEINS/PROTEINS_node_labels.txt": "f758e8ad3d6e3c026b50833d75f6f90735b94eb3345e4243707f495ca8afea8d",
    "tu/PROTEINS/README.txt": "e9c4ed2c9a4059ddfdc2eb7330ebecfc6c8d42dabd5ce2ee67f28aed0db49da7",
    "npz/amazon_electronics_photo.npz": "bdb1feb8e6ff42ee44024b04479145029c563fd42fc31bff80af20887ba0439a",
}


def source_url(relpath: str) -> str:
    """The pinned public URL of a file of the data directory."""
    if relpath.startswith("books/"):
        return _UVADLC + relpath.removeprefix("books/")
    if relpath.startswith("planetoid/"):
        return _PLANETOID + relpath.rsplit("/", 1)[1]
    if relpath.startswith("tu/") and relpath.endswith(".zip") and relpath.count("/") == 1:
        return _TU + relpath.removeprefix("tu/")  # tu/<NAME>.zip; its members are checked after extraction
    if relpath.startswith("npz/"):
        return _GNN_BENCHMARK + relpath.removeprefix("npz/")
    raise InputError(f"no known source for data file {relpath!r}")


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Resolve the data directory: the argument, else $SEQGRAPH_DATA, else ~/.cache/seqgraph (a folder, if it
    exists)."""
    env = os.environ.get("SEQGRAPH_DATA")
    if override:
        root, source = Path(override).expanduser(), "the data directory"
    elif env:
        root, source = Path(env).expanduser(), "SEQGRAPH_DATA"
    else:
        root, source = Path.home() / ".cache" / "seqgraph", "the data directory"
    if root.exists() and not root.is_dir():
        raise InputError(f"{source} {root} is not a folder")
    return root


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class UnverifiedData(UserWarning):
    """A data-directory file was used that has no pinned sha256 (Pubmed's: no copy could be checked)."""


def verify(path: Path, relpath: str) -> None:
    """Raise InputError when a file with a known checksum does not match it."""
    expected = CHECKSUMS.get(relpath)
    if expected is not None and sha256(path) != expected:
        raise InputError(f"{path} has the wrong sha256 (expected {expected[:12]}…): corrupt or not the pinned file")


def fetch(relpath: str, root: str | os.PathLike | None = None, url: str | None = None,
          checked_inside: bool = False) -> Path:
    """Return the local path of ``relpath`` in the data directory, downloading it if missing.

    The download goes to a temporary file and is renamed into place only after its checksum
    matched, so an interrupted or corrupt download never leaves a bad file behind.
    ``url`` overrides the pinned source (tests use a local server or a file:// mirror). A file without a pinned
    sha256 is used with an :class:`UnverifiedData` warning, unless the caller checks its contents
    (``checked_inside``: an archive whose members are pinned).
    """
    path = data_dir(root) / relpath
    if os.path.lexists(path):  # a folder, a FIFO or a link to nowhere in its place is refused, not downloaded over
        require_regular_file(path)
        verify(path, relpath)
    else:
        _download(url or source_url(relpath), path, relpath)
    if relpath not in CHECKSUMS and not checked_inside:
        warnings.warn(f"{path} has no pinned sha256: it is used unverified", UnverifiedData, stacklevel=2)
    return path


def _download(url: str, path: Path, relpath: str) -> None:
    """``url`` to ``path`` through a temporary file beside it, renamed into place once its checksum matched; on
    failure the folders made for it are removed again, so a failed download leaves the data directory as it was."""
    made = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]  # deepest first
    try:
        with replacing(path) as tmp:  # removed on any error, renamed into place once the block succeeds
            try:
                with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as f:
                    shutil.copyfileobj(response, f)
            except OSError as e:
                raise InputError(f"{relpath} is not in {path.parent} and could not be downloaded from {url}: {e}") \
                    from e
            verify(tmp, relpath)
    except BaseException:  # a refused download, a bad checksum, a dropped connection, Ctrl-C
        for folder in made:
            with contextlib.suppress(OSError):  # not empty: another process is filling it
                folder.rmdir()
        raise
