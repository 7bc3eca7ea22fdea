"""`seqgraph text eval`: the loss in nats/char and bits/char on the validation or test split, or a file."""

from ... import checkpoint
from ...charlm.data import encode, load_corpus, read_text, resolve
from ...charlm.evaluate import score
from ...charlm.finetune import checkpoint_config
from ...errors import InputError
from ..options import add_data_dir_option, add_device_option, add_json_option, add_threads_option
from ..output import print_json
from .common import add_checkpoint_option, checkpoint_path, load_checkpoint


def register(commands) -> None:
    p = commands.add_parser(
        "eval", help="loss in nats/char and bits/char on the validation or test split or a file",
        description="The cross-entropy of predicting each character from all the ones before it: the text read "
        "left to right in one pass, the state carried (the standard figure). Beside it, the per-window figure: "
        "windows of the training sequence length, each from a zero state. Without --corpus: the --split of the "
        "corpus the model was trained on.")
    add_checkpoint_option(p)
    p.add_argument("--corpus", help="a UTF-8 text file, or a named corpus (democracy, grimm), to score instead "
                   "(whole)")
    p.add_argument("--split", choices=("val", "test"),
                   help="the split of the training corpus to score, without --corpus (default: val)")
    add_data_dir_option(p)
    add_device_option(p)
    add_json_option(p)
    add_threads_option(p)
    p.set_defaults(func=run_eval)


def run_eval(args) -> int:
    model, vocab, ckpt, _ = load_checkpoint(args.checkpoint, args.device)
    config = checkpoint_config(ckpt)
    checkpoint.check_like(config, {"corpus": "", "corpus_sha256": "", "keep_boilerplate": False, "val_fraction": 0.0,
                                   "test_fraction": 0.0, "seq_len": 0}, checkpoint_path(args.checkpoint), "config",
                          extra=True)  # what scoring reads of the training run
    if args.corpus and args.split:
        raise InputError("--split chooses a part of the training corpus; --corpus is scored whole: give one of them")
    split = args.split or "val"
    if args.corpus:
        text, _ = read_text(resolve(args.corpus, args.data_dir), config["keep_boilerplate"])
        if len(text) < 2:
            raise InputError(f"{args.corpus} has fewer than 2 characters to score")
        data, source = encode(text, vocab), args.corpus
    else:
        corpus = load_corpus(resolve(config["corpus"], args.data_dir), config["val_fraction"],
                             config["keep_boilerplate"], test_fraction=config["test_fraction"], vocab=vocab)
        if corpus.sha256 != config["corpus_sha256"]:
            raise InputError(f"the corpus {config['corpus']} is not the file the model was trained on "
                             "(its sha256 differs); pass --corpus to score a file")
        data = corpus.test if split == "test" else corpus.val
        if len(data) < 2:
            raise InputError(f"the model was trained without a {split} split; pass --corpus to score a file")
        source = f"{config['corpus']} ({'test' if split == 'test' else 'validation'} split)"
    result = {"corpus": source, "characters": len(data), "step": ckpt["step"], **score(model, data, config["seq_len"])}
    if args.json:
        print_json(result)
    else:
        print(f"{source}: {result['loss']:.4f} nats/char, {result['bits']:.4f} bits/char, accuracy "
              f"{result['acc']:.4f}, left to right; per window of {config['seq_len']}: {result['window_loss']:.4f} "
              f"nats/char ({len(data)} characters, step {ckpt['step']})")
    return 0
