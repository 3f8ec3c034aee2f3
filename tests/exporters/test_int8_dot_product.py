"""The speed check's CPU note: int8 wins on CPUs with int8 dot products, and this host has none.

The lines are /proc/cpuinfo as those CPUs print it (x86 `flags`, Arm `Features`)."""

from __future__ import annotations

from hybridsplit.exporters.speedcheck import _NO_DOT, compare, int8_dot_product

ZEN1 = ("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n"
        "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat sse sse2 ht syscall nx ssse3 fma "
        "cx16 sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand hypervisor avx2 smep bmi2 sha_ni\n")
ICELAKE = ("model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz\n"
           "flags\t\t: fpu sse sse2 avx avx2 avx512f avx512dq avx512bw avx512vl avx512_vnni avx512_bitalg\n")
ALDERLAKE = "flags\t\t: fpu sse sse2 avx avx2 fma avx_vnni sha_ni\n"
A76 = ("processor\t: 4\nBogoMIPS\t: 38.40\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp "
       "asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\nCPU part\t: 0xd0b\n")
A53 = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid\nCPU part\t: 0xd03\n"


def test_int8_dot_product_from_cpuinfo():
    assert int8_dot_product(ZEN1) is False
    assert int8_dot_product(ICELAKE) is True and int8_dot_product(ALDERLAKE) is True
    assert int8_dot_product(A76) is True and int8_dot_product(A53) is False
    assert int8_dot_product("") is None  # nothing to read: no claim either way


def test_int8_slower_finding_names_the_cpu_when_it_lacks_dot_products(monkeypatch):
    from hybridsplit.exporters import speedcheck

    monkeypatch.setattr(speedcheck, "time_invoke_us", lambda files, runs, threads: (120.0, 100.0))
    monkeypatch.setattr(speedcheck, "int8_dot_product", lambda: False)
    slow = compare("int8.tflite", "fp32.tflite")["finding"]
    assert slow["issue"] == "int8 slower than fp32" and slow["fix"].endswith(_NO_DOT) and slow["cost_us"] == 20.0
    monkeypatch.setattr(speedcheck, "int8_dot_product", lambda: True)
    assert _NO_DOT not in compare("int8.tflite", "fp32.tflite")["finding"]["fix"]
