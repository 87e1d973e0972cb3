"""Typed numba ``njit`` decorator with a pure-Python fallback.

Why: mypy sees numba as untyped; routing every kernel through this one decorator keeps the
kernels typed, and the domain still imports (slowly) on a machine without numba.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TypeVar, cast

FuncT = TypeVar("FuncT", bound=Callable[..., object])

HAVE_NUMBA = importlib.util.find_spec("numba") is not None


def jit(func: FuncT) -> FuncT:
    """Compile ``func`` with numba (on-disk cache, GIL released), or return it unchanged.

    error_model="numpy" gives IEEE semantics for x/0 instead of a Python-style check on every
    division; fastmath "contract" only allows fused multiply-add, which never loses accuracy.
    """
    if not HAVE_NUMBA:  # pragma: no cover - numba is a declared dependency
        return func
    import numba

    compiled = numba.njit(func, cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
    return cast(FuncT, compiled)


def jit_inline(func: FuncT) -> FuncT:
    """Like ``jit`` but inlined into numba callers, so their loops can be SIMD-vectorised."""
    if not HAVE_NUMBA:  # pragma: no cover - numba is a declared dependency
        return func
    import numba

    compiled = numba.njit(
        func,
        cache=True,
        nogil=True,
        error_model="numpy",
        fastmath={"contract"},
        inline="always",
    )
    return cast(FuncT, compiled)
