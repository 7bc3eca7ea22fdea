import subprocess
import sys


def test_closed_output_pipe_is_not_a_traceback():
    # `seqgraph graph example | head -1`: the reader leaves after one line
    proc = subprocess.Popen([sys.executable, "-m", "seqgraph", "graph", "example"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, bufsize=0)
    proc.stdout.read(10)
    proc.stdout.close()
    assert proc.wait(timeout=120) in (0, 141)
    assert "Traceback" not in proc.stderr.read().decode()
