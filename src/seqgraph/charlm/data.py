"""Character corpora: read once, encode once, draw training windows (the report's Part 2).

A corpus is any UTF-8 text file (a BOM is stripped) or a named book of the data directory. Project
Gutenberg's header and licence are cut at their ``*** START OF`` / ``*** END OF`` lines unless asked
to keep them. The vocabulary is the sorted set of the text's characters; the text is encoded once
to a compact integer array (uint8 for up to 256 characters, else uint16/uint32), in chunks, and a training run
keeps it as a memory-mapped ``.npy`` cache in its folder (:func:`cache_corpus`): the processes of a run share its
pages, a resumed run maps it without decoding the text, and only the pages that training windows touch are read
(an int64 tensor would need 8 bytes a character). A cache whose codes do not fit its vocabulary is ignored.

The text is split in three contiguous parts: training, then validation (``val_fraction``), then test
(``test_fraction``, the very end; 0 for none). Training windows of ``T`` characters come from the training part
only; the target is the input shifted by one character (teacher forcing), so a window of T inputs reads T + 1
characters. The vocabulary may also be given (a model being fine-tuned has one): then a character outside it is
refused, or added to it with ``extend_vocab``.
"""

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_open, replacing
from ..datadir import fetch
from ..errors import InputError, require_regular_file

NAMED_CORPORA = {
    "democracy": "books/book_EN_democracy_in_the_US.txt",
    "grimm": "books/book_EN_grimms_fairy_tails.txt",
}
GUTENBERG_START = "*** START OF"
GUTENBERG_END = "*** END OF"
_END_LINE = re.compile(r"^End of (the )?Project Gutenberg", re.IGNORECASE | re.MULTILINE)
_CHUNK = 1 << 24  # characters encoded at a time: bounds the temporary uint32 copy to 64 MB


@dataclass
class Corpus:
    """An encoded text and its split. ``data[i]`` is the index of character i in ``vocab``."""

    data: np.ndarray  # (N,) uint8/uint16/uint32, possibly a read-only memmap
    vocab: str  # sorted characters; code k stands for vocab[k]
    val_fraction: float  # the last part of data held out for validation
    sha256: str  # of the source file's bytes: a checkpoint names the corpus it was trained on
    stripped: int = 0  # characters of Project Gutenberg boilerplate removed
    keep_boilerplate: bool = False  # whether the boilerplate was kept (not looked for)
    test_fraction: float = 0.0  # the very end of data, held out for the final test (0: no test split)

    @property
    def n_test(self) -> int:
        return round(len(self.data) * self.test_fraction)

    @property
    def n_train(self) -> int:
        return len(self.data) - round(len(self.data) * self.val_fraction) - self.n_test

    @property
    def train(self) -> np.ndarray:
        return self.data[: self.n_train]

    @property
    def val(self) -> np.ndarray:
        return self.data[self.n_train: len(self.data) - self.n_test]

    @property
    def test(self) -> np.ndarray:
        return self.data[len(self.data) - self.n_test:]


def resolve(corpus: str, data_root: str | os.PathLike | None = None) -> Path:
    """A named corpus ("democracy", "grimm") from the data directory, or a path as given."""
    if corpus in NAMED_CORPORA:
        return fetch(NAMED_CORPORA[corpus], data_root)
    return Path(corpus)


def read_text(path: str | os.PathLike, keep_boilerplate: bool = False) -> tuple[str, int]:
    """Return (text, characters of Project Gutenberg boilerplate stripped); a missing, empty, binary or
    non-UTF-8 file, or one holding nothing but boilerplate, raises InputError."""
    return _clean(_read_bytes(path), path, keep_boilerplate)


def _clean(raw: bytes, path: str | os.PathLike, keep_boilerplate: bool) -> tuple[str, int]:
    text, stripped = _decode(raw, path), 0
    if not keep_boilerplate:
        text, stripped = strip_gutenberg(text)
        if not text:
            raise InputError(f"corpus {path} holds nothing but Project Gutenberg boilerplate")
    return text, stripped


def _read_bytes(path: str | os.PathLike) -> bytes:
    if not os.path.lexists(path):
        raise InputError(f"corpus {path} does not exist")
    return require_regular_file(Path(path), what="corpus").read_bytes()  # a FIFO, a folder, a loop of links


def _decode(raw: bytes, path) -> str:
    try:
        text = raw.decode("utf-8-sig")  # -sig: drops a leading BOM
    except UnicodeDecodeError as e:
        raise InputError(f"corpus {path} is not UTF-8 text (binary file?): invalid byte at offset {e.start}") from e
    if not text:
        raise InputError(f"corpus {path} is empty")
    if "\x00" in text:
        raise InputError(f"corpus {path} is a binary file (it holds NUL characters), not text")
    return text


def strip_gutenberg(text: str) -> tuple[str, int]:
    """Cut everything up to the end of the ``*** START OF`` line and from the ``*** END OF`` line on.

    Either marker alone cuts its side; the closing "End of the Project Gutenberg EBook of ..." line
    just before the end marker goes too. Returns the body and the number of characters removed.
    """
    start = text.find(GUTENBERG_START)
    stop = text.find(GUTENBERG_END, max(start, 0))
    if start < 0 and stop < 0:
        return text, 0
    begin, end = 0, len(text)
    if start >= 0:
        line_end = text.find("\n", start)
        begin = len(text) if line_end < 0 else line_end + 1
    if stop >= 0:
        end = max(begin, text.rfind("\n", begin, stop) + 1)
        closing = _END_LINE.search(text, max(begin, end - 500), end)
        end = closing.start() if closing else end
    body = text[begin:end].strip()
    return body, len(text) - len(body)


def unknown_chars(text: str, vocab: str) -> list[str]:
    """The characters of ``text`` that are not in ``vocab``, sorted."""
    return sorted(set(text) - set(vocab))


def encode(text: str, vocab: str, out: np.ndarray | None = None) -> np.ndarray:
    """Map each character to its index in the sorted ``vocab``; unknown characters raise InputError."""
    unknown = unknown_chars(text, vocab)
    if unknown:
        shown = "".join(unknown[:20]) + ("…" if len(unknown) > 20 else "")
        raise InputError(f"{len(unknown)} character(s) not in the model's vocabulary: {shown!r}")
    if out is None:
        out = np.empty(len(text), dtype=code_dtype(len(vocab)))
    # vocab is sorted by code point, so a binary search over code points gives each character's index
    points = np.frombuffer(vocab.encode("utf-32-le"), dtype=np.uint32)
    for i in range(0, len(text), _CHUNK):
        chunk = np.frombuffer(text[i: i + _CHUNK].encode("utf-32-le"), dtype=np.uint32)
        out[i: i + len(chunk)] = np.searchsorted(points, chunk)
    return out


def decode(codes, vocab: str) -> str:
    return "".join(vocab[int(k)] for k in codes)


def code_dtype(vocab_size: int) -> np.dtype:
    for dtype in (np.uint8, np.uint16, np.uint32):
        if vocab_size <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    raise InputError(f"a vocabulary of {vocab_size} characters is too large")


def load_corpus(path: str | os.PathLike, val_fraction: float = 0.05, keep_boilerplate: bool = False,
                cache_dir: str | os.PathLike | None = None, test_fraction: float = 0.0, vocab: str | None = None,
                extend_vocab: bool = False) -> Corpus:
    """Read, clean and encode a corpus; with ``cache_dir``, the codes are memory-mapped from a cache there
    (:func:`cache_corpus`), written first if it is missing or damaged. Without, nothing is written.

    ``vocab`` (sorted): encode with this vocabulary instead of the text's own; a character of the text outside
    it raises InputError listing them, unless ``extend_vocab``, which adds them (the result stays sorted).
    The cache is ``corpus-<key>.npy`` plus ``corpus-<key>.json`` (vocabulary and characters stripped),
    keyed by the file's sha256, ``keep_boilerplate`` and the vocabulary; a second load maps it without
    encoding the text again.
    """
    if not (0 < val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise InputError(f"the validation and test fractions must be in (0, 1) and [0, 1) with a sum below 1, "
                         f"got {val_fraction} and {test_fraction}")
    raw = _read_bytes(path)
    digest = hashlib.sha256(raw).hexdigest()
    split = dict(val_fraction=val_fraction, sha256=digest, keep_boilerplate=keep_boilerplate,
                 test_fraction=test_fraction)
    text, stripped = _clean(raw, path, keep_boilerplate)
    del raw
    vocab = _vocabulary(text, vocab, extend_vocab)
    cached = _read_cache(cache_dir, _cache_key(digest, keep_boilerplate, vocab)) if cache_dir is not None else None
    if cached is not None:
        return Corpus(cached[0], vocab, stripped=stripped, **split)
    corpus = Corpus(encode(text, vocab), vocab, stripped=stripped, **split)
    return corpus if cache_dir is None else cache_corpus(corpus, cache_dir)


def cache_corpus(corpus: Corpus, cache_dir: str | os.PathLike) -> Corpus:
    """The same corpus with its codes memory-mapped from a cache in ``cache_dir``, written there if missing."""
    key = _cache_key(corpus.sha256, corpus.keep_boilerplate, corpus.vocab)
    if _read_cache(cache_dir, key) is None:
        _write_cache(Path(cache_dir), key, corpus.data, corpus.vocab, corpus.stripped)
    data, _, _ = _read_cache(cache_dir, key)
    return dataclasses.replace(corpus, data=data)


def _cache_key(digest: str, keep_boilerplate: bool, vocab: str) -> str:
    return (f"{digest[:16]}-{'raw' if keep_boilerplate else 'stripped'}-"
            f"{hashlib.sha256(vocab.encode()).hexdigest()[:8]}")


def _vocabulary(text: str, vocab: str | None, extend: bool) -> str:
    """The text's own sorted characters; or ``vocab``, checked against the text, extended when asked."""
    if vocab is None:
        return "".join(sorted(set(text)))
    unknown = unknown_chars(text, vocab)
    if unknown and not extend:
        listed = " ".join(repr(c) for c in unknown[:30]) + (" …" if len(unknown) > 30 else "")
        raise InputError(f"the corpus has {len(unknown)} character(s) outside the model's vocabulary: {listed} "
                         "(--extend-vocab adds them)")
    return "".join(sorted(set(vocab) | set(unknown)))


def _read_cache(cache_dir, key: str):
    npy, meta = Path(cache_dir) / f"corpus-{key}.npy", Path(cache_dir) / f"corpus-{key}.json"
    if not (npy.is_file() and meta.is_file()):
        return None
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
        data = np.load(npy, mmap_mode="r", allow_pickle=False)  # an empty file: EOFError; a zip: an NpzFile
        vocab, stripped = info["vocab"], info["stripped"]
    except (OSError, ValueError, EOFError, KeyError, TypeError):
        return None  # a damaged cache is rebuilt
    if not (isinstance(data, np.ndarray) and isinstance(vocab, str) and isinstance(stripped, int)):
        return None
    if data.ndim != 1 or data.dtype != code_dtype(len(vocab)) or (len(data) and data.max() >= len(vocab)):
        return None  # not the codes of this vocabulary: tampered with or damaged
    return data, vocab, stripped


def _write_cache(cache_dir: Path, key: str, codes: np.ndarray, vocab: str, stripped: int) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    with replacing(cache_dir / f"corpus-{key}.npy") as tmp, open(tmp, "wb") as f:
        np.save(f, codes)
    with atomic_open(cache_dir / f"corpus-{key}.json", "w", encoding="utf-8") as f:
        json.dump({"vocab": vocab, "stripped": stripped}, f)


def check_length(corpus: Corpus, seq_len: int) -> None:
    """Every split must hold one window of ``seq_len`` inputs plus its shifted target."""
    parts = [("training", corpus.train), ("validation", corpus.val)]
    parts += [("test", corpus.test)] if corpus.n_test else []
    for name, part in parts:
        if len(part) < seq_len + 1:
            raise InputError(f"the {name} part of the corpus has {len(part)} characters, fewer than "
                             f"sequence length + 1 = {seq_len + 1}; use a longer text or a shorter sequence length")


def sample_windows(data: np.ndarray, batch_size: int, seq_len: int,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``batch_size`` random windows from ``data``: inputs x and targets y = x shifted by one.

    A window starting at s reads data[s : s + T + 1], so s ranges over [0, N - T - 1] and no window
    reaches past ``data``. Pass the training part only.
    """
    starts = torch.randint(len(data) - seq_len, (batch_size,), generator=generator)  # (B,)
    index = starts[:, None].numpy() + np.arange(seq_len + 1)  # (B, T + 1)
    window = torch.from_numpy(np.asarray(data[index], dtype=np.int64))  # (B, T + 1)
    return window[:, :-1], window[:, 1:]  # (B, T), (B, T)
