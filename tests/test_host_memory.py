"""glibc keeps the memory a NumPy step frees (issue 18: no page faults at 1,000 worlds)."""

from __future__ import annotations

import platform
import sys
import types

import pytest

from kernels import host_memory


def test_keep_freed_memory_is_set_once_and_says_whether_it_took(monkeypatch):
    calls = []
    monkeypatch.setattr(host_memory, "_kept", None)
    monkeypatch.setattr(host_memory, "_set_glibc_options", lambda: calls.append(1) or True)
    assert host_memory.keep_freed_memory() is True
    assert host_memory.keep_freed_memory() is True
    assert calls == [1]  # mallopt once a process


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="mallopt's options are glibc's",
)
def test_glibc_accepts_the_options():
    assert host_memory._set_glibc_options() is True


def test_elsewhere_nothing_is_set(monkeypatch):
    monkeypatch.setattr(host_memory.sys, "platform", "darwin")
    assert host_memory._set_glibc_options() is False


def test_no_trim_threshold_without_the_mmap_setting(monkeypatch):
    # a trim threshold alone maps every block above 128 KiB afresh: worse than nothing
    seen = []

    def mallopt(option: int, value: int) -> int:
        seen.append(option)
        return 0  # glibc refuses

    libc = types.SimpleNamespace(mallopt=mallopt)
    monkeypatch.setattr(host_memory.sys, "platform", "linux")
    monkeypatch.setattr(host_memory.ctypes, "CDLL", lambda name: libc)
    assert host_memory._set_glibc_options() is False
    assert seen == [host_memory.M_MMAP_MAX]
