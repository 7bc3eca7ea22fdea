r"""
Sampling from a character model
===============================

You will learn to train a small character-level LSTM on *Democracy in America* from Python, watch its
validation loss fall (the cross-entropy of :ref:`eq. (42)-(43) <eq-loss>`, in nats per character), and sample
text from it: greedily, and at a temperature :math:`T`, which divides the logits before the softmax (the
assignment's :math:`\tau` multiplies them, so :math:`T = 1/\tau`). Sampling carries the LSTM's state from
character to character and never re-reads the text it has written. ``seqgraph text train`` and
``seqgraph text sample`` do the same from the command line, with checkpoints.
"""

import matplotlib.pyplot as plt
import torch

from seqgraph.charlm.data import decode, encode, load_corpus, resolve
from seqgraph.charlm.model import CharLMConfig
from seqgraph.charlm.train import TextTrainConfig, Trainer

# %%
# The corpus: the book without Project Gutenberg's header and licence, encoded once; its last 5% is the test split
# and the 5% before it the validation split.

corpus = load_corpus(resolve("democracy"), val_fraction=0.05, test_fraction=0.05)
print(f"{len(corpus.data):,} characters, {len(corpus.vocab)} distinct; {len(corpus.train):,} for training, "
      f"{len(corpus.val):,} for validation")

# %%
# A small model and a short run: two LSTM layers of 128 units, windows of 64 characters in 32 contiguous streams
# (the state is carried from window to window, as char-rnn trains), Adam with a cosine decay over 250 steps.

model_config = CharLMConfig(vocab_size=len(corpus.vocab), embedding_dim=32, hidden_size=128, num_layers=2)
config = TextTrainConfig(steps=250, batch_size=32, seq_len=64, lr=1e-2, schedule="cosine", eval_every=50, seed=0)
trainer = Trainer(model_config, config, corpus)
losses, validations = [], []
for log in trainer.run():
    losses.append(log["train"]["loss"])
    if log["val"] is not None:
        validations.append((log["val"]["step"], log["val"]["loss"]))
        print(f"step {log['val']['step']}: validation {log['val']['loss']:.3f} nats/char "
              f"({log['val']['bits']:.3f} bits), read left to right")

# A model that knew only how often each character occurs would score about 3.3 nats/char here.
assert validations[-1][1] < 2.1, "250 steps should bring the validation loss well below the unigram's"

plt.figure(figsize=(6, 3))
plt.plot(range(1, len(losses) + 1), losses, label="training batches")
plt.plot(*zip(*validations, strict=True), "o-", label="validation, left to right")
plt.xlabel("step")
plt.ylabel("nats / character")
plt.legend()
plt.tight_layout()

# %%
# Samples
# -------
# The prompt runs through the model once to warm its state; then each character is drawn from the model's
# distribution and fed back. Greedy decoding (temperature 0) takes the most likely character every time and soon
# repeats itself; a low temperature sharpens the distribution, a high one flattens it towards noise.

model = trainer.model
prompt = torch.from_numpy(encode("The people ", corpus.vocab).astype("int64"))[None]  # (1, P)
generator = torch.Generator().manual_seed(1)
for temperature in (0, 0.5, 1.0, 2.0):
    codes = model.generate(prompt, 120, temperature=temperature, generator=generator)  # (1, 120)
    text = "The people " + decode(codes[0].tolist(), corpus.vocab)
    print(f"T = {temperature} (τ = {'∞' if temperature == 0 else f'{1 / temperature:g}'}):\n{text}\n")
    assert len(text) == len("The people ") + 120
