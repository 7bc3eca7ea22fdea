"""What the text commands share: the checkpoint files of a training folder, loading a model from one, and
checking a prompt against the model's vocabulary."""

import sys
from pathlib import Path

from ... import checkpoint
from ...charlm.data import unknown_chars
from ...charlm.train import load_model
from ...errors import InputError, require_regular_file
from ..options import add_device_option, add_json_option, add_threads_option, resolve_device

LAST, BEST = "checkpoint.pt", "best.pt"
MAX_CHARACTERS, MAX_SAMPLES = 10**6, 10**4  # generated at once: the codes and the logits of a step fit in memory
REPORT_PROMPTS = ("The heart of democracy", "Liberty", "People of the Union", "Equality", "Slavery", "America",
                  "North America")
TEMPERATURE_HELP = ("T in softmax(logits / T): below 1 sharpens, above 1 flattens, 0 is greedy. The "
                    "assignment's softmax(τ·x̃) has the inverse, T = 1/τ")


def add_checkpoint_option(p) -> None:
    p.add_argument("--checkpoint", required=True, metavar="DIR",
                   help="a training folder (its best.pt, else checkpoint.pt) or a checkpoint file")


def add_prompt_options(p) -> None:
    """--skip-unknown, --device, --json and --threads: what the commands that feed a prompt to a model share."""
    p.add_argument("--skip-unknown", action="store_true",
                   help="drop prompt characters missing from the vocabulary (with a warning) instead of failing")
    add_device_option(p)
    add_json_option(p)
    add_threads_option(p)


def checkpoint_path(arg: str) -> Path:
    """A checkpoint file as given, or a training folder's best.pt, else its checkpoint.pt."""
    path = Path(arg)
    if path.is_dir():
        path = next((path / name for name in (BEST, LAST) if (path / name).is_file()), path / BEST)
    return path


def load_checkpoint(arg: str, device_name: str):
    device = resolve_device(device_name)
    path = checkpoint_path(arg)
    ckpt = checkpoint.load(path, map_location=device)
    model, vocab = load_model(ckpt, str(path), device)
    return model, vocab, ckpt, device


def read_prompt(path: str) -> str:
    """The prompt in the UTF-8 file ``path`` (``--prompt-file``), at most ``MAX_CHARACTERS`` characters."""
    path = require_regular_file(Path(path), what="--prompt-file")
    if path.stat().st_size > 4 * MAX_CHARACTERS:  # UTF-8 takes at most 4 bytes a character
        raise InputError(f"--prompt-file {path} holds more than {MAX_CHARACTERS:,} characters")
    try:
        prompt = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"--prompt-file {path} is not UTF-8 text: invalid byte at offset {e.start}") from None
    if len(prompt) > MAX_CHARACTERS:
        raise InputError(f"--prompt-file {path} holds {len(prompt):,} characters, more than {MAX_CHARACTERS:,}")
    return prompt


def clean_prompt(prompt: str, vocab: str, skip_unknown: bool) -> str:
    unknown = unknown_chars(prompt, vocab)
    if not unknown:
        return prompt
    listed = " ".join(repr(c) for c in unknown)
    if not skip_unknown:
        raise InputError(f"the prompt has characters that are not in the model's vocabulary: {listed} "
                         "(use --skip-unknown to drop them)")
    print(f"warning: dropped characters not in the vocabulary: {listed}", file=sys.stderr)
    return "".join(c for c in prompt if c not in unknown)
