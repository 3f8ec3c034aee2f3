"""Which cuts a sweep measures, and the static device cost of each, for any model.

Every model is cut by the graph splitter. A model that names its cuts (a `StagedNet`'s stage
ends) is swept at those by default, `--cuts-n N` of them spread evenly by position. Any other
model has too many valid, non-no-op graph cuts to export one bundle each, so the sweep takes
the cuts asked for (`--cut`, module aliases such as `features.6` accepted) or `--cuts-n N` cuts
spread evenly over cumulative device MACs (the cut nearest each k/(N+1) of the total,
deduplicated). A cut's device cost is one `StageStats` for the whole device half: MACs and
parameters up to the cut (the splitter's counter), and as activation traffic the int8 bytes of
every tensor the half computes.
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
        s = StageStats(name=c.name, kind="device half", output_shape=list(c.output_shape),
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
    from hybridsplit.errors import did_you_mean
    from hybridsplit.models.graph_split import named_cuts

    graph_cuts, costs = graph_cut_costs(model, sample)
    per_cut = {name: [s] for name, s in costs.items()}
    named = [c for c in named_cuts(model) if c in costs]
    if not cuts and named:  # n named cuts spread by position, or all of them
        cuts = named if n is None or n >= len(named) else [named[round((k + 1) * len(named) / (n + 1)) - 1]
                                                           for k in range(n)]
    elif not cuts:
        cuts = spread_by_macs(graph_cuts, n or 4)
    chosen = list(dict.fromkeys(cuts))
    for c in chosen:
        if c not in costs:
            raise SpecError(f"Unknown cut '{c}'.{did_you_mean(c, named or costs)} "
                            "See `hybridsplit cuts` for this model's cuts")
    return chosen, per_cut
