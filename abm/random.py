"""Counter-based random numbers for E independent worlds, identical on every array backend.

A model that runs E worlds side by side needs E independent random streams, drawn without a
Python loop over worlds, and the quality bars ask that one seed give the same run on NumPy and on
CuPy. Stateful generators cannot do both: ``numpy.random`` and ``cupy.random`` produce different
streams for the same seed, and one generator per world costs a Python loop. This module instead
makes every number a pure function of where it is used,

    x = mix(seed_w, step, stream, index),

evaluated elementwise in uint64 arithmetic (wraparound multiplication, shifts, xor), which the
array API standard defines and NumPy, CuPy and array-api-strict compute bit for bit alike. There
is no state to advance: a draw can be repeated, skipped or taken out of order, and the numbers of
world ``w`` do not depend on how many other worlds run beside it.

Construction (SplitMix64: Steele, Lea & Flood 2014, "Fast splittable pseudorandom number
generators", OOPSLA '14, the generator behind Java 8's ``SplittableRandom``; output finaliser as in
Vigna's public-domain ``splitmix64.c``, Stafford's "Mix13" variant of MurmurHash3's ``fmix64``):

- ``mix64(z)``: ``z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB;
  z ^= z >> 31``, all modulo 2**64. It is a bijection of the 64-bit integers.
- ``splitmix(k, n) = mix64(k + n·GAMMA)``, with the odd "golden gamma" GAMMA =
  0x9E3779B97F4A7C15, is the n-th output (n = 1, 2, ...) of a SplitMix64 generator whose state
  starts at ``k``. For a fixed ``k`` it is injective in ``n`` modulo 2**64 (GAMMA is odd and
  ``mix64`` is a bijection).
- The keys are chained, one SplitMix64 output per level::

      k_world  = splitmix(seed_w, 1)
      k_step   = splitmix(k_world, step + 1)
      k_stream = splitmix(k_step, stream + 1)
      bits     = splitmix(k_stream, index + 1)

  so for fixed (seed, step, stream) the numbers along ``index`` are exactly the SplitMix64
  sequence started at ``k_stream`` (tested by its authors with DieHarder and TestU01), and two
  different steps, or two different streams, of the same world start from different keys. The
  three key levels cost O(E) per call; only the last runs over all E × size elements.
- ``uniform``: the 53 high bits ``k = bits >> 11`` give ``u = k · 2**-53``, exactly; the single
  value ``k = 0`` (probability 2**-53) becomes 2**-54, the midpoint of the first cell, so every
  ``u`` lies in the open interval (0, 1) and ``log(u)`` is finite. (``(k + 0.5) · 2**-53`` is not
  an option: near 1 the float64 spacing is 2**-53, so ``k = 2**53 - 1`` would round to 1.0.)
- ``normal``: Box–Muller (Box & Muller 1958), ``z = sqrt(-2 log u1) · cos(2π u2)``, where element
  ``i`` takes ``u1``, ``u2`` from the uniforms at indices ``2i`` and ``2i + 1`` of the same
  (step, stream). The uniforms agree bit for bit across backends; ``log``, ``sqrt`` and ``cos``
  may differ by a few ulps between libraries (well inside §4's 1e-9).

Conventions: world ``w`` of a model with seed ``s`` gets seed ``s + w`` (see
:meth:`WorldStreams.from_seed`), so a one-world model with seed ``s + w`` reproduces world ``w`` of
the batch. ``index`` is the C-order position inside ``shape``, so
``uniform(t, j, (10,))[:, :5] == uniform(t, j, (5,))``. Give every use of randomness its own
``stream`` number and draw it once per step; two draws with the same (step, stream) repeat.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import array_api_compat

__all__ = ["GOLDEN_GAMMA", "MASK64", "WorldStreams", "mix64"]

#: 2**64 - 1: uint64 arithmetic is modulo 2**64.
MASK64 = (1 << 64) - 1
#: SplitMix64's default increment, the odd integer nearest 2**64 / φ.
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
_MIX_1 = 0xBF58476D1CE4E5B9
_MIX_2 = 0x94D049BB133111EB
_TWO_TO_MINUS_53 = 2.0**-53
_TWO_TO_MINUS_54 = 2.0**-54


def _u64(xp: ModuleType, value: int, device: Any) -> Any:
    """A 0-d uint64 array holding ``value`` modulo 2**64 (constants as arrays, not Python ints)."""
    return xp.asarray(value & MASK64, dtype=xp.uint64, device=device)


def mix64(x: Any) -> Any:
    """The SplitMix64 output finaliser, elementwise on a uint64 array.

    ``z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB;
    z ^= z >> 31`` modulo 2**64 (Steele, Lea & Flood 2014; Stafford's Mix13 constants, as in
    Vigna's ``splitmix64.c``). A bijection of the 64-bit integers with full avalanche: every
    input bit flips each output bit with probability close to 1/2.

    Args:
        x: uint64 array of any shape, in any array-API namespace.

    Returns:
        uint64 array of the same shape, namespace and device.
    """
    xp = array_api_compat.array_namespace(x)
    device = array_api_compat.device(x)
    return _mix64(x, _u64(xp, _MIX_1, device), _u64(xp, _MIX_2, device))


def _mix64(x: Any, m1: Any, m2: Any) -> Any:
    """``mix64`` with its two multipliers given as uint64 arrays on the device of ``x``."""
    x = (x ^ (x >> 30)) * m1
    x = (x ^ (x >> 27)) * m2
    return x ^ (x >> 31)


def _check_u64(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int; got {type(value).__name__}") from None
    if not 0 <= value <= MASK64:
        raise ValueError(f"{name} must be in [0, 2**64); got {value}")
    return value


def _check_shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(shape, bool):
        raise TypeError("shape must be an int or a tuple of ints")
    if isinstance(shape, int):
        shape = (shape,)
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"shape must be an int or a tuple of ints; got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"shape must have non-negative sizes; got {dims}")
    return dims


class WorldStreams:
    """Counter-based random numbers for E worlds: ``x = mix(seed_w, step, stream, index)``.

    The numbers are a pure function of the world's seed, the model step, the stream (a small int
    naming the use of randomness, e.g. 0 = AI sentiment, 1 = crypto) and the element index, built
    from SplitMix64 (Steele, Lea & Flood 2014; see the module docstring for the construction).
    No state advances, so drawing is repeatable and the order of draws does not matter.

    Attributes:
        xp: the array-API namespace the numbers are drawn in (NumPy's, CuPy's, array-api-strict
            and so on; plain ``numpy`` is replaced by ``array_api_compat.numpy``).
        seeds: (E,) uint64 array of the worlds' seeds, on ``device``.
        device: the device of ``seeds`` and of every draw.
    """

    def __init__(self, xp: ModuleType, seeds: Sequence[int] | Any, device: Any = None) -> None:
        """Keep one seed per world as a uint64 array.

        Args:
            xp: array-API namespace to draw in.
            seeds: length-E sequence of non-negative Python ints below 2**64, or a 1-D integer
                array of ``xp`` with non-negative entries (checked once, on the host).
            device: device to keep the seeds and draw on; default: that of an array ``seeds``,
                else the namespace's default device.

        Raises:
            TypeError: a seed is not an integer.
            ValueError: a seed is negative or ≥ 2**64, or ``seeds`` is not one-dimensional.
        """
        if hasattr(seeds, "__array_namespace__"):
            sxp = array_api_compat.array_namespace(seeds)
            if seeds.ndim != 1:
                raise ValueError(f"seeds must be one-dimensional; got shape {seeds.shape}")
            if not sxp.isdtype(seeds.dtype, "integral"):
                raise TypeError(f"seeds must have an integer dtype; got {seeds.dtype}")
            if sxp.isdtype(seeds.dtype, "signed integer") and not bool(sxp.all(seeds >= 0)):
                raise ValueError("seeds must be non-negative")
            arr = sxp.astype(seeds, sxp.uint64)
            if device is not None:
                arr = sxp.asarray(arr, device=device)
        else:
            if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
                raise TypeError(f"seeds must be a sequence of ints; got {type(seeds).__name__}")
            values = [_check_u64(f"seeds[{i}]", s) for i, s in enumerate(seeds)]
            arr = xp.asarray(values, dtype=xp.uint64, device=device)
        self.seeds = arr
        self.xp = xp = array_api_compat.array_namespace(arr)
        self.device = dev = array_api_compat.device(arr)
        self._gamma = _u64(xp, GOLDEN_GAMMA, dev)
        self._m1 = _u64(xp, _MIX_1, dev)
        self._m2 = _u64(xp, _MIX_2, dev)
        self._zero = _u64(xp, 0, dev)
        self._smallest = xp.asarray(_TWO_TO_MINUS_54, dtype=xp.float64, device=dev)
        self._world_key = self._splitmix(arr, 1)  # k_world = splitmix(seed, 1)

    @classmethod
    def from_seed(
        cls, xp: ModuleType, seed: int, n_worlds: int, device: Any = None
    ) -> WorldStreams:
        """Streams for worlds ``0 .. n_worlds - 1`` of a model with ``seed``: seeds s, s+1, ...

        Args:
            xp: array-API namespace to draw in.
            seed: the model's seed, a non-negative int.
            n_worlds: number of worlds E.
            device: device to draw on (default: the namespace's default).
        """
        seed = _check_u64("seed", seed)
        n_worlds = operator.index(n_worlds)
        if n_worlds < 0:
            raise ValueError(f"n_worlds must be non-negative; got {n_worlds}")
        return cls(xp, range(seed, seed + n_worlds), device=device)

    @property
    def n_worlds(self) -> int:
        """Number of worlds E."""
        return self.seeds.shape[0]

    def __len__(self) -> int:
        return self.n_worlds

    def __repr__(self) -> str:
        return f"WorldStreams(n_worlds={self.n_worlds}, device={self.device!r})"

    def _splitmix(self, key: Any, n: Any) -> Any:
        """``mix64(key + n·GAMMA)``: output number ``n`` of SplitMix64 started at ``key``.

        ``n`` is a uint64 array (the element counters) or a Python int, whose product with GAMMA
        is then formed exactly in Python and reduced modulo 2**64 before it becomes an array.
        """
        if isinstance(n, int):
            offset = _u64(self.xp, n * GOLDEN_GAMMA, self.device)
        else:
            offset = n * self._gamma
        return _mix64(key + offset, self._m1, self._m2)

    def _key(self, step: int, stream: int) -> Any:
        """(E,) uint64 key of (seed_w, step, stream): three chained SplitMix64 outputs."""
        key = self._splitmix(self._world_key, step + 1)
        return self._splitmix(key, stream + 1)

    def _bits_flat(self, step: int, stream: int, size: int) -> Any:
        """(E, size) uint64: the numbers at indices ``0 .. size - 1``."""
        xp = self.xp
        key = xp.reshape(self._key(step, stream), (self.n_worlds, 1))
        counters = xp.arange(1, size + 1, dtype=xp.uint64, device=self.device)
        return self._splitmix(key, xp.reshape(counters, (1, size)))

    def bits(self, step: int, stream: int, shape: int | Sequence[int] = ()) -> Any:
        """Raw 64-bit draws ``mix(seed_w, step, stream, index)``.

        Args:
            step: the model step, a non-negative int.
            stream: which use of randomness, a non-negative int.
            shape: shape of the draw per world; ``index`` is the C-order position in it.

        Returns:
            (E, *shape) uint64 array on the streams' device.
        """
        step = _check_u64("step", step)
        stream = _check_u64("stream", stream)
        shape = _check_shape(shape)
        flat = self._bits_flat(step, stream, math.prod(shape))
        return self.xp.reshape(flat, (self.n_worlds, *shape))

    def _uniform_flat(self, step: int, stream: int, size: int) -> Any:
        xp = self.xp
        high = self._bits_flat(step, stream, size) >> 11
        u = xp.astype(high, xp.float64) * _TWO_TO_MINUS_53
        return xp.where(high == self._zero, self._smallest, u)

    def uniform(self, step: int, stream: int, shape: int | Sequence[int] = ()) -> Any:
        """Uniform draws in the open interval (0, 1), from the 53 high bits of each number.

        ``u = (bits >> 11) · 2**-53``, except that 0 becomes 2**-54; every value is a multiple
        of 2**-54 and the numbers agree bit for bit on every backend.

        Args:
            step: the model step, a non-negative int.
            stream: which use of randomness, a non-negative int.
            shape: shape of the draw per world; ``index`` is the C-order position in it.

        Returns:
            (E, *shape) float64 array on the streams' device.
        """
        step = _check_u64("step", step)
        stream = _check_u64("stream", stream)
        shape = _check_shape(shape)
        flat = self._uniform_flat(step, stream, math.prod(shape))
        return self.xp.reshape(flat, (self.n_worlds, *shape))

    def normal(self, step: int, stream: int, shape: int | Sequence[int] = ()) -> Any:
        """Standard normal draws by Box–Muller: ``sqrt(-2 log u1) · cos(2π u2)``.

        Element ``i`` uses the uniforms at indices ``2i`` and ``2i + 1`` of the same
        (step, stream), so ``normal`` and ``uniform`` of one (step, stream) share numbers: give
        them different streams. ``|z| < 8.7`` always (``u1 ≥ 2**-54``).

        Args:
            step: the model step, a non-negative int.
            stream: which use of randomness, a non-negative int.
            shape: shape of the draw per world; ``index`` is the C-order position in it.

        Returns:
            (E, *shape) float64 array on the streams' device.
        """
        step = _check_u64("step", step)
        stream = _check_u64("stream", stream)
        shape = _check_shape(shape)
        xp = self.xp
        size = math.prod(shape)
        u = self._uniform_flat(step, stream, 2 * size)
        u1, u2 = u[:, 0::2], u[:, 1::2]
        z = xp.sqrt(-2.0 * xp.log(u1)) * xp.cos((2.0 * math.pi) * u2)
        return xp.reshape(z, (self.n_worlds, *shape))
