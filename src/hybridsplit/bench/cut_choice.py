"""Which cuts a sweep measures, and the static device cost of each, for any model.

A `StagedNet` keeps its stage boundaries and per-stage costs (bench/stages.py). Any other model
is cut by the graph splitter: its candidates are the valid, non-no-op graph cuts, too many to
export one bundle each, so the sweep takes the cuts asked for (`--cut`, module aliases such as
`features.6` accepted) or `--cuts-n N` cuts spread evenly over cumulative device MACs (the cut
nearest each k/(N+1) of the total, deduplicated). A graph cut's device cost is one `StageStats`
for the whole device half: MACs and parameters up to the cut (the splitter's counter), and as
activation traffic the int8 bytes of every tensor the half computes.
"""

from __future__ import annotations

import torch

from hybridsplit.bench.profile import StageStats
from hybridsplit.errors import SpecError


def graph_cut_costs(model, sample: torch.Tensor) -> tuple[list, dict[str, StageStats]]:
    """(valid non-no-op cuts, {cut name or alias: device-half StageStats})."""
    from hybridsplit.models.graph_split import cuts_of, trace

    traced = trace(model, sample[:1])
    cuts = [c for c in cuts_of(traced) if not c.noop]
    numel, running = {}, 0
    for n in traced.order:
        meta = n.meta.get("tensor_meta")
        shape = getattr(meta, "shape", None)
        running += int(torch.Size(shape[1:]).numel()) if shape is not None else 0
        numel[traced.names[n]] = running
    costs = {}
    for c in cuts:
        s = StageStats(name=c.name, kind="graph device half", output_shape=list(c.output_shape),
                       output_bytes_fp32=4 * numel[c.name], output_bytes_int8=numel[c.name], macs=c.macs,
                       params=c.device_params, weight_bytes_int8=c.device_params,
                       weight_bytes_fp32=4 * c.device_params)
        for name in (c.name, *c.ends):
            costs[name] = s
    return cuts, costs


def spread_by_macs(cuts: list, n: int) -> list[str]:
    """`n` cut names nearest to k/(n+1) of the total MACs (k = 1..n), in order, without repeats."""
    if n < 1:
        raise SpecError(f"--cuts-n must be >= 1, got {n}")
    total = cuts[0].total_macs if cuts else 0
    chosen: list[str] = []
    for k in range(1, n + 1):
        target = total * k / (n + 1)
        free = [c for c in cuts if c.name not in chosen]
        if free:
            chosen.append(min(free, key=lambda c: abs(c.macs - target)).name)
    order = {c.name: i for i, c in enumerate(cuts)}
    return sorted(chosen, key=order.__getitem__)


def choose_cuts(model, sample: torch.Tensor, cuts: list[str] | None, n: int | None):
    """(chosen cut names, {name: [StageStats of the device half]}) for a sweep of any model."""
    from hybridsplit.bench.stages import stage_stats
    from hybridsplit.models import StagedNet, list_split_points

    if isinstance(model, StagedNet):
        names = [p.name for p in list_split_points(model)]
        stats = stage_stats(list(model.named_children()), sample)
        order = [s.name for s in stats]
        per_cut = {c: stats[: order.index(c) + 1] for c in names}
        pool = names
    else:
        graph_cuts, costs = graph_cut_costs(model, sample)
        per_cut = {name: [s] for name, s in costs.items()}
        names = [c.name for c in graph_cuts]
        pool = list(costs)
        if not cuts:
            cuts = spread_by_macs(graph_cuts, n or 4)
    if cuts is None and n is not None:  # a staged model: n stage boundaries spread the same way
        cuts = names if n >= len(names) else [names[round((k + 1) * len(names) / (n + 1)) - 1] for k in range(n)]
    chosen = list(dict.fromkeys(cuts or names))
    for c in chosen:
        if c not in pool:
            from hybridsplit.errors import did_you_mean

            raise SpecError(f"Unknown cut '{c}'.{did_you_mean(c, pool)} See `hybridsplit cuts` for this model's cuts")
    return chosen, per_cut
