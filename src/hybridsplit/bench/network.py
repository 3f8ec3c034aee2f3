"""Named network profiles and the end-to-end latency estimate of a split (Neurosurgeon's model).

end-to-end(cut) = device half on the target + uplink(feature bytes) + cloud half on the server,
uplink(b) = RTT + 8 b / bandwidth. Beside it: cloud-only (send the raw input, whole model on the
server) and device-only (whole model on the target, nothing sent).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from hybridsplit.errors import SpecError, did_you_mean


@dataclass(frozen=True)
class NetworkProfile:
    name: str
    uplink_mbps: float
    rtt_ms: float
    radio: str
    """Key of the radio power model in energy.RADIO_TABLE."""
    source: str


# Uplink bandwidths: the averages Neurosurgeon (Kang et al., ASPLOS 2017, Table 2/Fig. 2)
# used for 3G / LTE / Wi-Fi; 5G and RTTs are typical values (override with --uplink-mbps/--rtt-ms).
NETWORKS: dict[str, NetworkProfile] = {p.name: p for p in (
    NetworkProfile("3g", 1.1, 150.0, "3g", "Neurosurgeon (ASPLOS 2017) 3G uplink; RTT typical"),
    NetworkProfile("lte", 5.85, 60.0, "lte", "Neurosurgeon (ASPLOS 2017) LTE uplink; RTT typical"),
    NetworkProfile("wifi", 18.88, 15.0, "wifi", "Neurosurgeon (ASPLOS 2017) Wi-Fi uplink; RTT typical"),
    NetworkProfile("5g", 60.0, 25.0, "5g", "typical sub-6 GHz 5G uplink and RTT (assumption)"),
)}


def get_network(name: str, uplink_mbps: float | None = None, rtt_ms: float | None = None) -> NetworkProfile:
    if name not in NETWORKS:
        raise SpecError(f"Unknown network profile '{name}'.{did_you_mean(name, NETWORKS)} "
                        f"Known: {', '.join(NETWORKS)}")
    p = NETWORKS[name]
    if uplink_mbps is not None or rtt_ms is not None:
        p = NetworkProfile(p.name, uplink_mbps or p.uplink_mbps, rtt_ms if rtt_ms is not None else p.rtt_ms,
                           p.radio, p.source + " (overridden)")
    return p


def uplink_ms(nbytes: int, net: NetworkProfile) -> float:
    return net.rtt_ms + 8 * nbytes / (net.uplink_mbps * 1e6) * 1e3


def end_to_end(device_ms: float, feature_bytes: int, cloud_ms: float, net: NetworkProfile) -> dict:
    up = uplink_ms(feature_bytes, net)
    return {"device_ms": device_ms, "uplink_ms": up, "cloud_ms": cloud_ms, "total_ms": device_ms + up + cloud_ms,
            "bytes": feature_bytes}


def estimates(device_ms: float, feature_bytes: int, cloud_ms: float, raw_bytes: int, full_cloud_ms: float,
              full_device_ms: float | None, net: NetworkProfile) -> dict:
    """Split vs cloud-only vs device-only for one network profile."""
    out = {
        "network": asdict(net),
        "split": end_to_end(device_ms, feature_bytes, cloud_ms, net),
        "cloud_only": end_to_end(0.0, raw_bytes, full_cloud_ms, net),
    }
    if full_device_ms is not None:
        out["device_only"] = {"device_ms": full_device_ms, "uplink_ms": 0.0, "cloud_ms": 0.0,
                              "total_ms": full_device_ms, "bytes": 0}
    return out
