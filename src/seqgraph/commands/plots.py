"""Figures: matplotlib imported only when a command first plots, and written the same way by every command."""


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend, imported when a command first plots (it is slow)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path) -> None:
    """Lay out ``fig``, write it to ``path`` (PNG, 120 dpi) and free it."""
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    pyplot().close(fig)
