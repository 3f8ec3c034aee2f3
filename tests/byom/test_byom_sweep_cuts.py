"""A sweep of a graph-split model: which cuts it measures and their device costs."""

from __future__ import annotations

import pytest
import torch

from hybridsplit.bench.cut_choice import choose_cuts, graph_cut_costs
from hybridsplit.errors import SpecError
from hybridsplit.models.graph_split import list_cuts


def test_n_cuts_are_spread_by_cumulative_macs(tiny):
    sample = torch.zeros((1, 3, 32, 32))
    cuts = [c for c in list_cuts(tiny, sample) if not c.noop]
    chosen, per_cut = choose_cuts(tiny, sample, None, 3)
    assert len(chosen) == 3 and len(set(chosen)) == 3
    by_name = {c.name: c for c in cuts}
    total = cuts[0].total_macs
    for k, name in enumerate(chosen, start=1):  # each is the valid cut nearest k/4 of the MACs
        target = total * k / 4
        assert abs(by_name[name].macs - target) == min(abs(c.macs - target) for c in cuts if c.name not in chosen[: k - 1])
        assert per_cut[name][0].macs == by_name[name].macs and per_cut[name][0].params == by_name[name].device_params
    assert [by_name[n].macs for n in chosen] == sorted(by_name[n].macs for n in chosen)


def test_named_cuts_and_module_aliases_are_accepted_and_unknown_ones_refused(tiny):
    sample = torch.zeros((1, 3, 32, 32))
    chosen, per_cut = choose_cuts(tiny, sample, ["block1", "block2.relu_1"], None)
    assert chosen == ["block1", "block2.relu_1"] and per_cut["block1"][0].name == "block1.relu_1"
    with pytest.raises(SpecError, match="Unknown cut 'block9'"):
        choose_cuts(tiny, sample, ["block9"], None)


def test_device_cost_counts_every_tensor_the_half_computes(tiny):
    sample = torch.zeros((1, 3, 32, 32))
    cuts, costs = graph_cut_costs(tiny, sample)
    first, later = costs[cuts[0].name], costs[cuts[-1].name]
    assert first.output_bytes_int8 >= cuts[0].numel  # at least the cut tensor itself
    assert later.output_bytes_int8 > first.output_bytes_int8 and later.macs > first.macs
