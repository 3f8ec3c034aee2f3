"""Matplotlib figures rendered to inline PNG data URIs (the report must work offline)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence


def _figure(width: float = 7.0, height: float = 3.6):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    return plt, fig, ax


def to_data_uri(fig, plt) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def png_file_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def layer_bars(names: Sequence[str], median_us: Sequence[float], p90_us: Sequence[float | None], title: str) -> str:
    plt, fig, ax = _figure(7.0, max(2.4, 0.45 * len(names) + 1.2))
    ms = [v / 1000 for v in median_us]
    err = [max((p - m) / 1000, 0) if p is not None else 0 for p, m in zip(p90_us, median_us, strict=True)]
    y = list(range(len(names)))[::-1]
    ax.barh(y, ms, xerr=err if any(err) else None, color="#3b7dd8", ecolor="#555", capsize=3)
    ax.set_yticks(y, labels=list(names))
    ax.set_xlabel("latency per layer (ms, median; whisker to p90)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return to_data_uri(fig, plt)


def xy_curve(series: dict[str, tuple[Sequence[float], Sequence[float]]], xlabel: str, ylabel: str, title: str,
             annotate: dict[str, Sequence[str]] | None = None) -> str:
    plt, fig, ax = _figure()
    for name, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o", label=name)
        for x, y, text in zip(xs, ys, (annotate or {}).get(name, []), strict=False):
            ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8)
    return to_data_uri(fig, plt)


def pareto_plot(xs: Sequence[float], ys: Sequence[float], labels: Sequence[str], front: Sequence[int],
                xlabel: str, ylabel: str, title: str) -> str:
    plt, fig, ax = _figure()
    ax.scatter(xs, ys, color="#999", label="all points", zorder=2)
    fx = [xs[i] for i in front]
    fy = [ys[i] for i in front]
    ax.step(fx, fy, where="post", color="#d8553b", zorder=1)
    ax.scatter(fx, fy, color="#d8553b", label="Pareto front", zorder=3)
    for i, text in enumerate(labels):
        ax.annotate(text, (xs[i], ys[i]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return to_data_uri(fig, plt)


def grouped_bars(groups: Sequence[str], series: dict[str, Sequence[float | None]], ylabel: str, title: str) -> str:
    """One cluster of bars per group (e.g. model), one bar colour per series (e.g. runtime); None: no bar."""
    plt, fig, ax = _figure(max(7.0, 0.5 * len(groups) * len(series) + 2.5), 3.8)
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g, v in enumerate(values) if v is not None]
        ax.bar(xs, [v for v in values if v is not None], width, label=name)
    ax.set_xticks(range(len(groups)), labels=list(groups))
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncols=2)
    return to_data_uri(fig, plt)


def search_plot(points: Sequence[tuple[float, float, bool]], front: Sequence[int], max_attacker: float,
                chosen: tuple[float, float] | None, verified: Sequence[tuple[float, float]], xlabel: str,
                title: str) -> str:
    """Defence search: every explored point (attacker, primary, met), the frontier, the target X, the chosen point
    and the chosen setting's verified runs (one per seed)."""
    plt, fig, ax = _figure(7.0, 4.4)
    ax.scatter([p[0] for p in points], [p[1] for p in points], c=["#3b9d5d" if p[2] else "#999" for p in points],
               label="explored (green: meets X)", zorder=2)
    fr = sorted((points[i][0], points[i][1]) for i in front)
    ax.plot([p[0] for p in fr], [p[1] for p in fr], color="#d8553b", lw=1, label="frontier", zorder=1)
    ax.axvline(max_attacker, color="#d8553b", ls="--", lw=1, label=f"target X = {max_attacker:g}")
    if chosen is not None:
        ax.scatter([chosen[0]], [chosen[1]], s=160, facecolors="none", edgecolors="black", lw=1.5,
                   label="chosen (search)", zorder=4)
    if verified:
        ax.scatter([v[0] for v in verified], [v[1] for v in verified], marker="x", color="black",
                   label="chosen setting re-trained, per seed", zorder=5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("primary accuracy (int8 device.tflite + cloud.onnx)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return to_data_uri(fig, plt)
