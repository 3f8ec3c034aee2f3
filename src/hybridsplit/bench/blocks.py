"""Per-block latency: the device half's per-op rows grouped under the model's own module names.

The per-op table names TFLite ops (`op07 CONV_2D`); a user thinks in blocks (`features.2`,
`layer1`, `block2`). Both sides count MACs by the same rule (tests/bench/test_mac_counters_agree.py),
so the ops that carry MACs (convolutions, fully connected, matmuls) are matched, in graph order, to
the torch graph's nodes that carry MACs, and the match is accepted only when every pair's MACs are
equal. Each op then takes the block of its module; an op without MACs joins the block of the MAC op
before it (a PAD joins the one after: it is that convolution's padding). Blocks are the top-level
modules, and a block holding more than half of the ops (or the only one) is opened into its children:
`features.0 … features.3` for torchvision's MobileNetV3, `layer1`, `layer2` for a ResNet, the stages
of a registry backbone, and `device.features.0 …` + `pca` for a defended half whose PCA is folded in.
"""

from __future__ import annotations

from collections import OrderedDict

LEADS_NEXT = {"PAD", "PADV2"}
"""Ops that belong to the MAC op after them."""


def block_names(owners: list[str]) -> list[str]:
    """Each module path's block: its top-level module, opened one level at a time while a block holds
    more than half of the paths (or is the only block) and its paths go deeper."""
    parts = [o.split(".") if o else [""] for o in owners]
    depth = [1] * len(parts)
    changed = True
    while changed:
        changed = False
        groups: dict[tuple, list[int]] = {}
        for i, p in enumerate(parts):
            groups.setdefault(tuple(p[: depth[i]]), []).append(i)
        for members in groups.values():
            big = len(groups) == 1 or 2 * len(members) > len(parts)
            if big and len(set(owners[i] for i in members)) > 1 and all(len(parts[i]) > depth[i] for i in members):
                for i in members:
                    depth[i] += 1
                changed = True
                break
    return [".".join(p[:d]) for p, d in zip(parts, depth)]


def torch_mac_nodes(module, sample) -> list[tuple[str, int]]:
    """(module path, MACs) of every node of `module` that carries MACs, in graph order."""
    from hybridsplit.models.graph_split import trace

    traced = trace(module, sample[:1])
    return [(traced.names[n], traced.macs[n]) for n in traced.order if traced.macs.get(n, 0) > 0]


def align(layers: list[dict], mac_nodes: list[tuple[str, int]]) -> list[str] | None:
    """The module path of each op row, or None when the MAC sequences do not match one to one."""
    mac_ops = [i for i, row in enumerate(layers) if row.get("macs", 0) > 0]
    if len(mac_ops) != len(mac_nodes) or any(layers[i]["macs"] != m for i, (_, m) in zip(mac_ops, mac_nodes)):
        return None
    owner: list[str | None] = [None] * len(layers)
    for i, (name, _) in zip(mac_ops, mac_nodes):
        owner[i] = name
    for i in reversed(range(len(layers))):  # a PAD takes the owner of the op after it
        if owner[i] is None and layers[i].get("kind") in LEADS_NEXT and i + 1 < len(layers):
            owner[i] = owner[i + 1]
    first = next((o for o in owner if o is not None), "")
    last = first
    for i, o in enumerate(owner):  # everything else: the MAC op before it (the first block before any)
        if o is None:
            owner[i] = last
        else:
            last = o
    return owner


def group(layers: list[dict], owners: list[str]) -> list[dict]:
    """Block rows: name, op count, MACs, params, summed median µs and the op names."""
    blocks: OrderedDict[str, dict] = OrderedDict()
    for row, name in zip(layers, block_names(owners)):
        name = name or "device"
        b = blocks.setdefault(name, {"name": name, "ops": [], "macs": 0, "params": 0, "latency_us_median": 0.0})
        b["ops"].append(row["name"])
        b["macs"] += row.get("macs", 0)
        b["params"] += row.get("params", 0)
        b["latency_us_median"] += row.get("latency_us_median") or 0.0
    for b in blocks.values():
        b["latency_us_median"] = round(b["latency_us_median"], 3)
    return list(blocks.values())


def blocks_of(layers: list[dict], module, sample) -> tuple[list[dict], str | None]:
    """(block rows, None) or ([], why the ops could not be named)."""
    owners = align(layers, torch_mac_nodes(module, sample))
    if owners is None:
        return [], ("the TFLite ops that carry MACs do not match the torch graph's one to one "
                    "(a converter fused or split them); per-op rows only")
    return group(layers, owners), None
