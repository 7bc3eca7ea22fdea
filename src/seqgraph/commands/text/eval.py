"""`seqgraph text eval`: the loss in nats/char and bits/char on the validation split or a file."""

from ...charlm.data import encode, load_corpus, read_text, resolve
from ...charlm.train import evaluate
from ...errors import InputError
from ..common import add_data_dir_option, add_device_option, add_json_option, print_json
from .common import add_checkpoint_option, load_checkpoint


def register(commands) -> None:
    p = commands.add_parser(
        "eval", help="loss in nats/char and bits/char on the validation split or a file",
        description="The cross-entropy of predicting each character from the ones before it in its window "
        "(windows of the training sequence length, each from a zero state, as in training). Without --corpus: "
        "the validation split of the corpus the model was trained on.")
    add_checkpoint_option(p)
    p.add_argument("--corpus", help="a UTF-8 text file to score instead (whole file)")
    add_data_dir_option(p)
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(func=run_eval)


def run_eval(args) -> int:
    model, vocab, ckpt, _ = load_checkpoint(args.checkpoint, args.device)
    config = ckpt["config"]
    if args.corpus:
        text, _ = read_text(args.corpus, config["keep_boilerplate"])
        if len(text) < 2:
            raise InputError(f"{args.corpus} has fewer than 2 characters to score")
        data, source = encode(text, vocab), args.corpus
    else:
        corpus = load_corpus(resolve(config["corpus"], args.data_dir), config["val_fraction"],
                             config["keep_boilerplate"])
        if corpus.sha256 != config["corpus_sha256"]:
            raise InputError(f"the corpus {config['corpus']} is not the file the model was trained on "
                             "(its sha256 differs); pass --corpus to score a file")
        data, source = corpus.val, f"{config['corpus']} (validation split)"
    result = {"corpus": source, "characters": len(data), "step": ckpt["step"],
              **evaluate(model, data, config["seq_len"])}
    if args.json:
        print_json(result)
    else:
        print(f"{source}: {result['loss']:.4f} nats/char, {result['bits']:.4f} bits/char, "
              f"accuracy {result['acc']:.4f} ({len(data)} characters, step {ckpt['step']})")
    return 0
