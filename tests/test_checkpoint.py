import os
import pickle
import random

import numpy as np
import pytest
import torch

from seqgraph import checkpoint, seeding
from seqgraph.errors import InputError


def test_round_trip_and_no_temporary_left(tmp_path):
    obj = {"model": {"w": torch.randn(3, 4)}, "step": 7, "config": {"hidden": 8}}
    checkpoint.save_atomic(obj, tmp_path / "ckpt.pt")
    loaded = checkpoint.load(tmp_path / "ckpt.pt")
    assert torch.equal(loaded["model"]["w"], obj["model"]["w"]) and loaded["step"] == 7
    assert os.listdir(tmp_path) == ["ckpt.pt"]


def test_failed_write_keeps_the_old_checkpoint(tmp_path):
    path = tmp_path / "ckpt.pt"
    checkpoint.save_atomic({"step": 1}, path)
    with pytest.raises((AttributeError, TypeError, pickle.PicklingError)):
        checkpoint.save_atomic({"step": 2, "bad": lambda: None}, path)  # not serialisable
    assert checkpoint.load(path)["step"] == 1
    assert os.listdir(tmp_path) == ["ckpt.pt"]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing"])
def test_damaged_checkpoint_is_a_clear_error(tmp_path, damage):
    path = tmp_path / "ckpt.pt"
    checkpoint.save_atomic({"w": torch.randn(100)}, path)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "garbage":
        path.write_bytes(b"\x00garbage" * 10)
    else:
        path.unlink()
    with pytest.raises(InputError, match="checkpoint") as error:
        checkpoint.load(path)
    assert "\n" not in str(error.value)


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_checkpoint_carrying_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        torch.save({"x": Payload()}, f, pickle_module=pickle)
    with pytest.raises(InputError, match="not a readable") as error:
        checkpoint.load(path)
    assert "\n" not in str(error.value)


def test_rng_state_round_trip_through_a_checkpoint(tmp_path):
    seeding.seed_everything(3)
    checkpoint.save_atomic({"rng": seeding.rng_state()}, tmp_path / "c.pt")
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    seeding.seed_everything(99)
    seeding.set_rng_state(checkpoint.load(tmp_path / "c.pt")["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_check_compatible_names_the_differences(tmp_path):
    ckpt = {"kind": "text", "config": {"hidden": 128, "layers": 2}}
    checkpoint.check_compatible(ckpt, "text", {"hidden": 128, "layers": 2}, ("hidden", "layers"), "c.pt")
    with pytest.raises(InputError, match="hidden: 128 in checkpoint vs 256 now"):
        checkpoint.check_compatible(ckpt, "text", {"hidden": 256, "layers": 2}, ("hidden",), "c.pt")
    with pytest.raises(InputError, match="not a 'toy'"):
        checkpoint.check_compatible(ckpt, "toy", {}, (), "c.pt")
