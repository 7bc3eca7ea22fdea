"""The benchmark scripts record what they measured."""

import importlib.util
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from seqgraph.charlm.data import load_corpus
from seqgraph.charlm.train import preset_values
from seqgraph.fused import native
from seqgraph.recurrent import LSTM

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def benchmark(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_text_budget_records_the_corpus_it_was_given(corpus_file):
    text_budget = benchmark("text_budget")
    values = preset_values("quick", {"test_fraction": 0.0, "seq_len": 8, "hidden_size": 8, "embedding_dim": 4})
    corpus = load_corpus(corpus_file, values["val_fraction"], test_fraction=0.0)
    trainer = text_budget.build(values, corpus, str(corpus_file))
    assert trainer.config_dict["corpus"] == str(corpus_file)  # it said "democracy" whatever the corpus


@pytest.mark.filterwarnings("ignore:TF32 acceleration")  # mkldnn.flags() also sets allow_tf32, for Intel GPUs
def test_the_lstm_floor_counts_the_products_the_layer_makes():
    T, B, I, H = 5, 3, 4, 6
    layer, x = LSTM(I, H), torch.randn(B, T, I, requires_grad=True)
    # torch's products (oneDNN's are not counted), in the Python loops
    with torch.backends.mkldnn.flags(enabled=False), native.python_loops(), FlopCounterMode(display=False) as count:
        outputs, _ = layer(x)
        outputs.sum().backward()
    assert count.get_total_flops() == benchmark("recurrent").lstm_product_flops(T, B, I, H)
