"""A picture of the label-noise profile: hedged share and expected flip rate per finding.

matplotlib is an optional extra (`radlabel[archive]`), imported only here and only when a chart
is asked for.
"""

from __future__ import annotations

from pathlib import Path

from labeler.profile import NoiseProfile


def draw(result: NoiseProfile, path: Path) -> Path:
    """Write a PNG bar chart of the hedged share and flip rate of every mentioned finding.

    Raises:
        ImportError: matplotlib is not installed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(k, p) for k, p in result.findings.items() if p.mentioned]
    names = [k for k, _ in rows]
    hedged = [p.hedged_share or 0.0 for _, p in rows]
    flips = [p.expected_flip_rate or 0.0 for _, p in rows]
    fig, ax = plt.subplots(figsize=(10, 0.35 * len(rows) + 1.5))
    y = range(len(rows))
    ax.barh([i + 0.2 for i in y], hedged, height=0.4, label="hedged share (|u| < 3)")
    ax.barh([i - 0.2 for i in y], flips, height=0.4, label="expected flip rate (GLS)")
    ax.set_yticks(list(y), names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_title(f"label-noise profile, {result.reports} reports")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
