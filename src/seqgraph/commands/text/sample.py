"""`seqgraph text sample`: generate text from a trained model, streamed to the terminal as it is produced."""

import argparse
from typing import TypedDict

import torch

from ... import threads
from ...charlm.data import decode, encode
from ...errors import InputError
from ..flags import bounded_int, nonnegative_float, positive_float, positive_int, seed_value
from ..output import print_json
from .common import (
    MAX_CHARACTERS,
    MAX_SAMPLES,
    TEMPERATURE_HELP,
    add_checkpoint_option,
    add_prompt_options,
    clean_prompt,
    load_checkpoint,
    read_prompt,
)


class SampleResults(TypedDict):
    """What ``text sample --json`` prints."""

    temperature: float  # T in softmax(logits / T); 0 is greedy
    top_k: int | None
    top_p: float | None  # nucleus sampling's p
    stop_at: str | None  # each sample ends after the first occurrence of this string, if any
    seed: int
    prompt: str
    samples: list[str]  # prompt (or start character) and continuation


MIN_TEMPERATURE = 1e-3  # below it softmax(logits / T) is greedy anyway, and logits / T overflows long before 0


def temperature(text: str) -> float:
    """0 (greedy) or at least MIN_TEMPERATURE."""
    value = nonnegative_float(text)
    if 0 < value < MIN_TEMPERATURE:
        raise argparse.ArgumentTypeError(f"must be 0 (greedy) or at least {MIN_TEMPERATURE:g}, got {text}")
    return value


def inverse_temperature(text: str) -> float:
    """τ = 1/T for T in [MIN_TEMPERATURE, ∞)."""
    value = positive_float(text)
    if value > 1 / MIN_TEMPERATURE:
        raise argparse.ArgumentTypeError(f"must be at most {1 / MIN_TEMPERATURE:g}, got {text}")
    return value


def _top_p(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def register(commands) -> None:
    p = commands.add_parser(
        "sample", help="generate text from a trained model",
        description="Generate --num samples as one batch. The prompt (or a random start character) is fed "
        "once to warm the LSTM state, which is then carried from character to character. One sample is printed "
        "character by character as it is produced. " + TEMPERATURE_HELP
        + ": --inverse-temperature 2 equals --temperature 0.5.")
    add_checkpoint_option(p)
    given = p.add_mutually_exclusive_group()
    given.add_argument("--prompt", default="", help="text to continue (default: a random start character per sample)")
    given.add_argument("--prompt-file", metavar="FILE",
                       help="read the prompt from FILE (UTF-8), for a prompt longer than one command-line argument "
                       f"may be (128 KiB on Linux); at most {MAX_CHARACTERS:,} characters")
    p.add_argument("--length", type=bounded_int(MAX_CHARACTERS), default=200,
                   help=f"characters to generate, at most {MAX_CHARACTERS:,} (default: 200)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--temperature", type=temperature, default=1.0, help=TEMPERATURE_HELP + " (default: 1)")
    how.add_argument("--inverse-temperature", type=inverse_temperature, metavar="TAU",
                     help="the assignment's τ in softmax(τ·x̃); the same as --temperature 1/τ")
    how.add_argument("--greedy", action="store_true", help="always the most likely character (temperature 0)")
    p.add_argument("--top-k", type=positive_int, help="draw only among the K most likely characters")
    p.add_argument("--top-p", type=_top_p, metavar="P",
                   help="nucleus sampling: draw only among the most likely characters whose probabilities sum to "
                   "at least P, in (0, 1]")
    p.add_argument("--stop-at", metavar="STRING",
                   help="end each sample after the first occurrence of STRING in its continuation (at most --length "
                   "characters)")
    p.add_argument("--num", type=bounded_int(MAX_SAMPLES), default=1,
                   help=f"samples, generated as one batch, at most {MAX_SAMPLES:,} (default: 1)")
    p.add_argument("--seed", type=seed_value, default=0, help="seed of the draws (default: 0)")
    add_prompt_options(p)
    p.set_defaults(func=run_sample)


def run_sample(args) -> int:
    model, vocab, _, device = load_checkpoint(args.checkpoint, args.device)
    if args.stop_at == "":
        raise InputError("--stop-at: the string is empty")
    prompt = clean_prompt(read_prompt(args.prompt_file) if args.prompt_file else args.prompt, vocab, args.skip_unknown)
    temperature = 0.0 if args.greedy else (1 / args.inverse_temperature if args.inverse_temperature
                                           else args.temperature)
    if temperature == 0 and (args.top_k is not None or args.top_p is not None):
        raise InputError("greedy sampling (--greedy, --temperature 0) always takes the most likely character: "
                         "--top-k and --top-p do not apply")
    generator = torch.Generator(device).manual_seed(args.seed)
    if prompt:
        x = torch.from_numpy(encode(prompt, vocab).astype("int64")).to(device).repeat(args.num, 1)  # (N, P)
    else:
        x = torch.randint(len(vocab), (args.num, 1), generator=generator, device=device)  # (N, 1)
    samples = [decode(row, vocab) for row in x.tolist()]
    live = not args.json and args.num == 1  # one sample goes to the terminal as it is produced
    if live:
        print(samples[0], end="", flush=True)
    done = [False] * args.num
    with threads.for_work(threads.recurrent_work(args.num, model.config.hidden_size)):
        for step in model.stream(x, args.length, temperature, args.top_k, args.top_p, generator):  # (N,)
            for k, code in enumerate(step.tolist()):
                if not done[k]:
                    samples[k] += vocab[code]
                    done[k] = args.stop_at is not None and samples[k].endswith(args.stop_at)
                    if live:
                        print(vocab[code], end="", flush=True)
            if all(done):
                break
    if args.json:
        print_json(SampleResults(temperature=temperature, top_k=args.top_k, top_p=args.top_p, stop_at=args.stop_at,
                                 seed=args.seed, prompt=prompt, samples=samples))
    elif live:
        print()  # the sample itself is out already
    else:
        print("\n\n".join(samples))
    return 0
