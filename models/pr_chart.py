"""The precision/recall curve of an evaluation as a PNG (matplotlib, from the `[charts]` extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.evaluate import EvalError, EvalResult


def write_pr_chart(result: EvalResult, path: Path, *, title: str = "") -> Path:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise EvalError("--chart needs matplotlib: pip install 'doorline[charts]'") from None
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    for g in result.groups:
        if not g.n_labels or not g.pr_curve:
            continue
        recall = np.linspace(0.0, 1.0, len(g.pr_curve))
        ax.plot(recall, g.pr_curve, label=f"{g.name} AP50 {g.ap50:.3f} ({g.n_labels} labels)")
        if g.n_predictions:
            ax.plot([g.recall], [g.precision], "o", color=ax.lines[-1].get_color())
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(
        f"{title}\nmAP@0.5 {result.map50:.3f}, mAP@0.5:0.95 {result.map50_95:.3f}; dots: score {result.pr_conf}",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
