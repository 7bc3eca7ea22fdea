"""Where a command's results go: the output folder it claims, and JSON on stdout."""

import json
import sys
from pathlib import Path

from .. import outdir
from ..errors import InputError


def prepare_out(args, command: str, config: dict, out: str | None = None, force: bool | None = None,
                only_check: bool = False, resume: bool = False, longer: tuple[str, ...] = ()) -> Path:
    """:func:`seqgraph.outdir.prepare` (or with ``only_check`` :func:`seqgraph.outdir.check`, which writes nothing)
    for ``--out`` (or ``out``) and ``--force`` (or ``force``), its errors naming the flags. With ``resume`` the
    folder must hold a run (its ``run.json``) of this command and configuration, ``--force`` or not: forcing would
    rewrite ``run.json`` for checkpoints of other settings; the settings named in ``longer`` (``epochs``,
    ``seeds``: flags of the same names) may grow (:func:`seqgraph.outdir.continues`), and a command without
    ``resume`` that would grow them is pointed to it."""
    out = args.out if out is None else out
    force = args.force if force is None else force
    if resume:
        if not (Path(out) / outdir.RUN_FILE).is_file():
            raise InputError(f"--resume: {out} holds no run to continue")
        force = False
    try:
        return (outdir.check if only_check else outdir.prepare)(out, command, config, force,
                                                                longer if resume else ())
    except outdir.FolderTaken as e:
        flags = " or ".join(f"--{key}" for key in longer)
        if resume:
            grown = f", or with more {flags}" if longer else ""
            raise InputError(f"--resume: {out} holds a run of other settings ({Path(out) / outdir.RUN_FILE}); "
                             f"continue it with its own{grown}") from e
        recorded = e.recorded or {}
        if longer and recorded.get("command") == command and outdir.continues(recorded.get("config"), config, longer):
            raise InputError(f"--out {out} holds a run of fewer {' or '.join(longer)}: add --resume to train it "
                             "on, or pass --force to start again") from e
        raise InputError(f"--out {e}; choose another --out or pass --force") from e
    except InputError as e:
        raise InputError(f"--out {e}") from e


def print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")
