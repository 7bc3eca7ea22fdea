import numpy as np
import pytest
import torch

from seqgraph.charlm.data import (
    check_length,
    decode,
    encode,
    load_corpus,
    read_text,
    resolve,
    sample_windows,
    strip_gutenberg,
)
from seqgraph.errors import InputError

GUTENBERG = ("The Project Gutenberg EBook of X\n\n*** START OF THIS PROJECT GUTENBERG EBOOK X ***\n\n"
             "Body of the book.\nSecond line.\n\nEnd of the book\n"
             "*** END OF THIS PROJECT GUTENBERG EBOOK X ***\nLicence text here.\n")


def test_read_text_strips_bom(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffhello wörld".encode())
    text, stripped = read_text(path)
    assert text == "hello wörld"
    assert stripped == 0


def test_strip_gutenberg_cuts_header_and_licence():
    body, stripped = strip_gutenberg(GUTENBERG)
    assert body == "Body of the book.\nSecond line.\n\nEnd of the book"
    assert stripped == len(GUTENBERG) - len(body)
    assert strip_gutenberg("no markers here\n") == ("no markers here\n", 0)


def test_load_corpus_vocab_encoding_and_split(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text(GUTENBERG, encoding="utf-8")
    corpus = load_corpus(path, val_fraction=0.25)
    text = "Body of the book.\nSecond line.\n\nEnd of the book"
    assert corpus.vocab == "".join(sorted(set(text)))
    assert corpus.data.dtype == np.uint8
    assert decode(corpus.data, corpus.vocab) == text
    assert corpus.n_train == len(text) - round(len(text) * 0.25)
    assert decode(corpus.val, corpus.vocab) == text[corpus.n_train:]
    raw = load_corpus(path, keep_boilerplate=True)
    assert raw.stripped == 0 and decode(raw.data, raw.vocab) == GUTENBERG


def test_load_corpus_cache_is_memory_mapped(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text("abcabcabd" * 50, encoding="utf-8")
    first = load_corpus(path, cache_dir=tmp_path / "cache")
    second = load_corpus(path, cache_dir=tmp_path / "cache")
    assert isinstance(second.data, np.memmap)
    assert second.vocab == first.vocab == "abcd"
    assert np.array_equal(np.asarray(first.data), np.asarray(second.data))
    assert len(list((tmp_path / "cache").glob("corpus-*.npy"))) == 1


def test_encode_wide_vocabulary_and_unknown_characters():
    vocab = "".join(sorted(set("aé€😀")))
    codes = encode("😀€aé", vocab)
    assert decode(codes, vocab) == "😀€aé"
    assert codes.dtype == np.uint8
    with pytest.raises(InputError, match="'qz'"):
        encode("aqz", vocab)
    cjk = "".join(chr(0x4E00 + i) for i in range(300))
    codes = encode(cjk[::-1], cjk)
    assert codes.dtype == np.uint16 and codes.tolist() == list(range(299, -1, -1))


def test_democracy_loses_only_boilerplate(shared_data):
    corpus = load_corpus(resolve("democracy", shared_data))
    assert corpus.stripped + len(corpus.data) == 1_148_434  # SPEC: 1,148,435 characters with the BOM
    assert 19_000 < corpus.stripped < 19_700  # ~545 of header and ~18,800 of licence
    tail = decode(corpus.val[-2000:], corpus.vocab)
    assert "Gutenberg" not in tail and "Russia" in tail


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    (b"", "is empty"),
    (b"\xef\xbb\xbf", "is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
    (b"text\x00with NUL", "binary"),
])
def test_bad_corpora_raise_input_error(tmp_path, content, message):
    path = tmp_path / "corpus.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_corpus(path)


def test_corpus_shorter_than_a_window_is_refused(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("a" * 40, encoding="utf-8")
    corpus = load_corpus(path, val_fraction=0.5)  # 20 + 20 characters
    check_length(corpus, 19)
    with pytest.raises(InputError, match="sequence length"):
        check_length(corpus, 20)


def test_windows_are_shifted_by_one():
    data = np.arange(100, dtype=np.int64)
    x, y = sample_windows(data, 8, 10, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 10)
    assert torch.equal(y, x + 1)
    assert torch.equal(x[:, 1:], x[:, :1] + torch.arange(1, 10))


def test_validation_text_never_in_a_training_batch(tmp_path):
    # index-level: encode positions as values, then every drawn index must lie in the training part
    n, seq_len = 2000, 30
    path = tmp_path / "c.txt"
    path.write_text("x" * n, encoding="utf-8")
    corpus = load_corpus(path, val_fraction=0.05)
    corpus.data = np.arange(n)  # the same split logic over position indices
    g = torch.Generator().manual_seed(0)
    seen = torch.cat([torch.cat(sample_windows(corpus.train, 64, seq_len, g)) for _ in range(200)])
    assert seen.max().item() == corpus.n_train - 1  # the last training character is reached ...
    assert seen.min().item() == 0
    assert corpus.n_train == n - 100  # ... and none of the last 5%
