"""`seqgraph text sample`: generate text from a trained model."""

import argparse
from typing import TypedDict

import torch

from ...charlm.data import decode, encode
from ..common import (
    nonnegative_float,
    positive_float,
    positive_int,
    print_json,
    seed_value,
)
from .common import TEMPERATURE_HELP, add_checkpoint_option, add_prompt_options, clean_prompt, load_checkpoint


class SampleResults(TypedDict):
    """What ``text sample --json`` prints."""

    temperature: float  # T in softmax(logits / T); 0 is greedy
    top_k: int | None
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


def register(commands) -> None:
    p = commands.add_parser(
        "sample", help="generate text from a trained model",
        description="Generate --num samples as one batch. The prompt (or a random start character) is fed "
        "once to warm the LSTM state, which is then carried from character to character. " + TEMPERATURE_HELP
        + ": --inverse-temperature 2 equals --temperature 0.5.")
    add_checkpoint_option(p)
    p.add_argument("--prompt", default="", help="text to continue (default: a random start character per sample)")
    p.add_argument("--length", type=positive_int, default=200, help="characters to generate (default: 200)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--temperature", type=temperature, default=1.0, help=TEMPERATURE_HELP + " (default: 1)")
    how.add_argument("--inverse-temperature", type=inverse_temperature, metavar="TAU",
                     help="the assignment's τ in softmax(τ·x̃); the same as --temperature 1/τ")
    how.add_argument("--greedy", action="store_true", help="always the most likely character (temperature 0)")
    p.add_argument("--top-k", type=positive_int, help="draw only among the K most likely characters")
    p.add_argument("--num", type=positive_int, default=1, help="samples, generated as one batch (default: 1)")
    p.add_argument("--seed", type=seed_value, default=0, help="seed of the draws (default: 0)")
    add_prompt_options(p)
    p.set_defaults(func=run_sample)


def run_sample(args) -> int:
    model, vocab, _, device = load_checkpoint(args.checkpoint, args.device)
    prompt = clean_prompt(args.prompt, vocab, args.skip_unknown)
    temperature = 0.0 if args.greedy else (1 / args.inverse_temperature if args.inverse_temperature
                                           else args.temperature)
    generator = torch.Generator(device).manual_seed(args.seed)
    if prompt:
        x = torch.from_numpy(encode(prompt, vocab).astype("int64")).to(device).repeat(args.num, 1)  # (N, P)
    else:
        x = torch.randint(len(vocab), (args.num, 1), generator=generator, device=device)  # (N, 1)
    out = model.generate(x, args.length, temperature, args.top_k, generator)  # (N, length)
    samples = [decode(row_x, vocab) + decode(row, vocab) for row_x, row in zip(x.tolist(), out.tolist(), strict=True)]
    if args.json:
        print_json(SampleResults(temperature=temperature, top_k=args.top_k, seed=args.seed, prompt=prompt,
                                 samples=samples))
    else:
        print("\n\n".join(samples))
    return 0
