"""`seqgraph text complete`: greedy completion of prompts (the report's experiment)."""

import torch

from ... import threads
from ...charlm.data import decode, encode
from ...errors import InputError
from ..flags import bounded_int
from ..output import print_json
from .common import (
    MAX_CHARACTERS,
    REPORT_PROMPTS,
    add_checkpoint_option,
    add_prompt_options,
    clean_prompt,
    load_checkpoint,
)


def register(commands) -> None:
    p = commands.add_parser(
        "complete", help="greedy completion of prompts (the report's experiment)",
        description="Feed each prompt, then continue it greedily. Without prompts, the report's: "
        + ", ".join(f'"{s}"' for s in REPORT_PROMPTS) + ".")
    add_checkpoint_option(p)
    p.add_argument("prompts", nargs="*", metavar="PROMPT", help="texts to complete (default: the report's)")
    p.add_argument("--length", type=bounded_int(MAX_CHARACTERS), default=30,
                   help=f"characters added to each, at most {MAX_CHARACTERS:,} (default: 30)")
    add_prompt_options(p)
    p.set_defaults(func=run_complete)


def run_complete(args) -> int:
    model, vocab, _, device = load_checkpoint(args.checkpoint, args.device)
    prompts = [clean_prompt(p, vocab, args.skip_unknown) for p in args.prompts or REPORT_PROMPTS]
    if not all(prompts):
        raise InputError("a prompt is empty")
    completions = []
    with threads.for_work(threads.recurrent_work(1, model.config.hidden_size)):
        for prompt in prompts:  # prompts differ in length, so one at a time
            x = torch.from_numpy(encode(prompt, vocab).astype("int64")).to(device)[None]  # (1, P)
            completions.append(decode(model.generate(x, args.length, temperature=0)[0].tolist(), vocab))
    if args.json:
        print_json([{"prompt": p, "completion": c} for p, c in zip(prompts, completions, strict=True)])
    else:
        for p, c in zip(prompts, completions, strict=True):
            print(f"{p}|{c}".replace("\n", "↵"))
    return 0
