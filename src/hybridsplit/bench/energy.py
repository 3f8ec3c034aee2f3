"""Energy proxies: compute (MACs and bytes moved) and radio (sending the features), with sources.

These are *models*, not measurements: this host has no energy counters (no RAPL, no perf
events). A measured number comes only from a real phone (`AdbTarget.measure_energy`).
Every constant below is in a table that can be overridden (`--energy-table file.json`,
same keys), and every row names its source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hybridsplit.errors import TargetError

# Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, 45 nm, 0.9 V.
# A multiply-accumulate is one multiply plus one add of the same type.
COMPUTE_TABLE: dict[str, dict] = {
    "mac_pj": {
        "int8": 0.2 + 0.03,    # 8-bit int mult 0.2 pJ + 8-bit int add 0.03 pJ
        "int32": 3.1 + 0.1,    # 32-bit int mult 3.1 pJ + add 0.1 pJ
        "fp16": 1.1 + 0.4,     # 16-bit float mult 1.1 pJ + add 0.4 pJ
        "fp32": 3.7 + 0.9,     # 32-bit float mult 3.7 pJ + add 0.9 pJ
    },
    "byte_pj": {
        "sram": 20.0 / 8,      # 64-bit read from a 32 KB SRAM: 20 pJ -> 2.5 pJ/byte (activations)
        "dram": 1950.0 / 8,    # 64-bit DRAM access: 1.3-2.6 nJ, midpoint 1.95 nJ -> ~244 pJ/byte (weights)
    },
    "source": "M. Horowitz, 'Computing's energy problem (and what we can do about it)', ISSCC 2014, "
              "Fig. 1.1.9 (45 nm, 0.9 V). Modern 5-7 nm phone SoCs are several times lower per op; "
              "use the ratios between rows, or override the table.",
    "model": "E = MACs x mac_pj[dtype] + weight_bytes x byte_pj[dram] (weights streamed once per inference) "
             "+ 2 x activation_bytes x byte_pj[sram] (each layer output written once and read once)",
}

# Uplink radio power: P = alpha_u * throughput_mbps + beta (mW) while sending, from the power
# model of Huang et al., "A Close Examination of Performance and Power Characteristics of 4G
# LTE Networks", MobiSys 2012 (3G, LTE and WiFi rows, measured on a phone). 5G: no linear
# uplink model of that form was found offline; the entry scales LTE's by 1.5x (Narayanan et
# al., "A Variegated Look at 5G in the Wild", SIGCOMM 2021 report 5G radio power above LTE's)
# and is marked as an assumption.
RADIO_TABLE: dict[str, dict] = {
    "3g": {"alpha_mw_per_mbps": 868.98, "beta_mw": 817.88, "tail_mw": 0.0, "tail_s": 0.0,
           "source": "Huang et al., MobiSys 2012, power model (3G uplink); tail not modelled here"},
    "wifi": {"alpha_mw_per_mbps": 283.17, "beta_mw": 132.86, "tail_mw": 0.0, "tail_s": 0.0,
             "source": "Huang et al., MobiSys 2012, power model (WiFi uplink); WiFi tail is short, not modelled"},
    "lte": {"alpha_mw_per_mbps": 438.39, "beta_mw": 1288.04, "tail_mw": 1060.0, "tail_s": 11.576,
            "source": "Huang et al., MobiSys 2012, power model (LTE uplink) and LTE RRC tail (1060 mW for 11.6 s)"},
    "5g": {"alpha_mw_per_mbps": 657.6, "beta_mw": 1932.1, "tail_mw": 1590.0, "tail_s": 11.576,
           "source": "ASSUMPTION: LTE model x 1.5 (Narayanan et al., SIGCOMM 2021 find 5G radio power above LTE's)"},
}


@dataclass(frozen=True)
class EnergyTables:
    compute: dict
    radio: dict

    @classmethod
    def default(cls) -> EnergyTables:
        return cls(json.loads(json.dumps(COMPUTE_TABLE)), json.loads(json.dumps(RADIO_TABLE)))

    @classmethod
    def load(cls, path: str | Path | None) -> EnergyTables:
        """Defaults, with any keys of a JSON file ({"compute": {...}, "radio": {...}}) overriding them."""
        tables = cls.default()
        if path is None:
            return tables
        try:
            raw = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise TargetError(f"energy table '{path}' is unreadable ({exc}); give a JSON file with 'compute'/'radio'") from None
        for key in ("mac_pj", "byte_pj"):
            tables.compute[key].update(raw.get("compute", {}).get(key, {}))
        for net, row in raw.get("radio", {}).items():
            tables.radio.setdefault(net, {}).update(row)
        return tables


def compute_energy_uj(macs: int, weight_bytes: int, activation_bytes: int, dtype: str,
                      tables: EnergyTables | None = None) -> dict:
    """Compute-energy proxy in microjoules for one inference."""
    t = (tables or EnergyTables.default()).compute
    if dtype not in t["mac_pj"]:
        raise TargetError(f"no energy per MAC for dtype '{dtype}'; known: {', '.join(t['mac_pj'])}")
    mac = macs * t["mac_pj"][dtype]
    weights = weight_bytes * t["byte_pj"]["dram"]
    acts = 2 * activation_bytes * t["byte_pj"]["sram"]
    return {"mac_uj": mac * 1e-6, "weights_uj": weights * 1e-6, "activations_uj": acts * 1e-6,
            "total_uj": (mac + weights + acts) * 1e-6, "dtype": dtype}


def radio_energy_mj(nbytes: int, network: str, uplink_mbps: float, tables: EnergyTables | None = None,
                    include_tail: bool = False) -> dict:
    """Energy (millijoules) for the radio to send `nbytes` at `uplink_mbps` under the network's power model."""
    t = (tables or EnergyTables.default()).radio
    if network not in t:
        raise TargetError(f"no radio power model for '{network}'; known: {', '.join(t)}")
    row = t[network]
    seconds = 8 * nbytes / (uplink_mbps * 1e6)
    power_mw = row["alpha_mw_per_mbps"] * uplink_mbps + row["beta_mw"]
    send = power_mw * seconds  # mW x s = mJ
    tail = row.get("tail_mw", 0.0) * row.get("tail_s", 0.0) if include_tail else 0.0
    return {"send_mj": send, "tail_mj": tail, "total_mj": send + tail, "seconds": seconds, "power_mw": power_mw,
            "network": network, "source": row.get("source", "user table")}
