import pytest
import torch

from seqgraph import cli, threads


@pytest.fixture
def no_thread_environment(monkeypatch):
    for name in threads.ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


def test_small_work_runs_on_one_thread_and_large_products_on_every_core(no_thread_environment):
    torch.set_num_threads(3)  # whatever the caller had is given back
    with threads.for_work(threads.recurrent_work(128, 128)):  # the memory tasks' LSTM step: 8.4e6
        assert torch.get_num_threads() == 1
    with threads.for_work(threads.recurrent_work(256, 1024)):  # the report's character model: 1.1e9
        assert torch.get_num_threads() == threads._cores
    with threads.for_work(threads.graph_work(32 * 39, 3, 64)):  # a batch of PROTEINS' graphs: 2.4e5
        assert torch.get_num_threads() == 1
    with threads.for_work(threads.graph_work(2708, 1433, 16)):  # Cora's first GCN layer: 6.2e7
        assert torch.get_num_threads() == threads._cores
    assert torch.get_num_threads() == 3


def test_threads_flag_and_environment_decide_every_phase(monkeypatch, no_thread_environment):
    with threads.requested(3):
        assert torch.get_num_threads() == 3
        for work in (0, threads.SMALL * 10):
            with threads.for_work(work):
                assert torch.get_num_threads() == 3
    assert threads.user_choice() is None
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # torch read it at start; the process keeps torch's count
    with threads.for_work(0):
        assert torch.get_num_threads() == threads._cores
    with threads.requested(None):  # no --threads: nothing changes
        assert threads.user_choice() == threads._cores


def test_commands_declare_their_work_and_give_the_threads_back(tmp_path, monkeypatch, no_thread_environment):
    declared = []
    for_work = threads.for_work

    def recording(work):
        declared.append(threads.count(work))
        return for_work(work)

    monkeypatch.setattr(threads, "for_work", recording)
    torch.set_num_threads(2)
    argv = ["toy", "--task", "randomcomb", "--length", "4", "--max-steps", "2", "--eval-batches", "1", "--seeds",
            "0", "--out", str(tmp_path / "toy")]
    assert cli.main(argv) == 0
    assert declared == [1] and torch.get_num_threads() == 2
    declared.clear()
    assert cli.main([*argv[:-1], str(tmp_path / "toy4"), "--threads", "4"]) == 0
    assert declared == [4] and torch.get_num_threads() == 2


@pytest.mark.parametrize("value", ["0", "-1", "two", "1025"])
def test_a_bad_threads_value_is_one_line_and_exit_2(value, capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(["toy", "--out", "x", "--threads", value])
    assert exit.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
