"""Leave the user's model and random state exactly as they were found.

:func:`untouched` snapshots, before the audit runs anything, every module's attributes (the
``training`` flag, the dicts of parameters, buffers, submodules and hooks, lists a forward
fills, such as MONAI ``DynUNet``'s deep-supervision heads), the value, ``requires_grad`` and
``.grad`` of every parameter and buffer, torch's global hook dicts, and the global random
states (torch CPU, every initialised CUDA device, Python ``random``, NumPy); on exit it puts
them all back. Inside, the random states are seeded, so a model that samples in ``forward``
(a VAE's reparameterisation, dropout in train mode) gives the same numbers on every audit.

Values are copied back only into tensors whose values changed (a train-mode EMA codebook,
batch-norm statistics, whose in-place update does not even move the version counter): an
untouched weight keeps its version, so a graph the user built before the audit can still be
back-propagated after it.

:func:`detached_deepcopy` copies a model that holds graph tensors from its last forward
(``copy.deepcopy`` refuses non-leaf tensors): they are copied detached.

>>> import torch, torch.nn as nn
>>> m = nn.BatchNorm1d(2).train()
>>> with untouched(m):
...     _ = m(torch.randn(4, 2) + 5)
>>> m.running_mean.tolist(), m.num_batches_tracked.item()
([0.0, 0.0], 0)
"""

from __future__ import annotations

import contextlib
import copy
import random

import torch
import torch.nn as nn
import torch.nn.modules.module as _module_globals

__all__ = ["AUDIT_SEED", "ModelSnapshot", "seeded_rng", "untouched", "detached_deepcopy"]

#: Seed of the audit's own random stream (forked from the user's, which is restored).
AUDIT_SEED = 0

# torch's hooks for every module at once; an audit must neither leave nor lose any.
_GLOBAL_HOOKS = ("_global_backward_pre_hooks", "_global_backward_hooks",
                 "_global_forward_pre_hooks", "_global_forward_hooks",
                 "_global_forward_hooks_always_called", "_global_forward_hooks_with_kwargs",
                 "_global_buffer_registration_hooks", "_global_module_registration_hooks",
                 "_global_parameter_registration_hooks")


def _containers(value):
    """A shallow copy of a list's or dict's contents (to undo in-place filling), else None."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return None


class ModelSnapshot:
    """Everything about a module tree that running it can change; ``restore()`` undoes it.

    >>> import torch.nn as nn
    >>> m = nn.Linear(2, 2)
    >>> snap = ModelSnapshot(m)
    >>> with torch.no_grad():
    ...     _ = m.weight.add_(1.0)
    >>> _ = m.weight.requires_grad_(False), m.eval()
    >>> snap.restore()
    >>> torch.equal(m.weight, snap.values[0][1]), m.weight.requires_grad, m.training
    (True, True, True)
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.modules = list(model.modules())
        # Script modules keep their state in C++; only tensors and modes are reachable.
        self.attrs = [(m, dict(vars(m)), {k: _containers(v) for k, v in vars(m).items()})
                      for m in self.modules if not isinstance(m, torch.jit.ScriptModule)]
        self.modes = [(m, m.training) for m in self.modules]
        seen: set[int] = set()
        self.values: list[tuple[torch.Tensor, torch.Tensor, int, bool, object]] = []
        tensors = [p for _, p in model.named_parameters()] + [b for _, b in model.named_buffers()]
        for t in tensors:
            if t is None or id(t) in seen:
                continue
            seen.add(id(t))
            self.values.append((t, t.detach().clone(), t._version, t.requires_grad, t.grad))
        self.global_hooks = {name: dict(getattr(_module_globals, name))
                             for name in _GLOBAL_HOOKS if hasattr(_module_globals, name)}

    def restore(self) -> None:
        """Put every attribute, mode, hook dict, value, flag and gradient back."""
        for m, before, contents in self.attrs:
            now = vars(m)
            for key in [k for k in now if k not in before]:
                del now[key]  # attributes the audit's passes added
            for key, value in before.items():
                if now.get(key, _MISSING) is not value:
                    now[key] = value
                saved = contents[key]
                if saved is not None and (len(value) != len(saved) or any(
                        a is not b for a, b in zip(
                            value.values() if isinstance(value, dict) else value,
                            saved.values() if isinstance(saved, dict) else saved))):
                    if isinstance(value, dict):
                        value.clear()
                        value.update(saved)
                    else:
                        value[:] = saved
        for m, mode in self.modes:
            if m.training != mode:
                m.training = mode
        with torch.no_grad():
            for t, saved, version, requires_grad, grad in self.values:
                if t._version != version or not _same(t, saved):
                    t.copy_(saved)
                if t.requires_grad != requires_grad:
                    t.requires_grad_(requires_grad)
                if t.grad is not grad:
                    t.grad = grad
        for name, saved in self.global_hooks.items():
            hooks = getattr(_module_globals, name)
            if hooks != saved:
                hooks.clear()
                hooks.update(saved)


_MISSING = object()


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bit-for-bit equal values, NaN included (``torch.equal`` says NaN != NaN)."""
    if torch.equal(a, b):
        return True
    if a.is_floating_point() or a.is_complex():
        return bool(torch.isclose(a, b, rtol=0.0, atol=0.0, equal_nan=True).all())
    return False


@contextlib.contextmanager
def seeded_rng(seed: int = AUDIT_SEED):
    """Run the block on random streams seeded with ``seed``; the caller's states come back.

    Seeds the torch CPU generator and those of initialised CUDA devices directly:
    ``torch.manual_seed`` would also queue a seed for CUDA devices not yet initialised,
    changing the user's stream there.

    >>> import random
    >>> before = random.random(); state = random.getstate()
    >>> with seeded_rng():
    ...     a = torch.rand(1).item()
    >>> with seeded_rng():
    ...     b = torch.rand(1).item()
    >>> a == b, random.getstate() == state
    (True, True)
    """
    py_state = random.getstate()
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy ships with torch's usual installs
        np = None
    np_state = np.random.get_state() if np is not None else None
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=cuda):
        torch.default_generator.manual_seed(seed)
        for i in cuda:
            torch.cuda.default_generators[i].manual_seed(seed)
        random.seed(seed)
        if np is not None:
            np.random.seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            if np is not None:
                np.random.set_state(np_state)


@contextlib.contextmanager
def untouched(model: nn.Module, seed: int = AUDIT_SEED):
    """Snapshot ``model`` and the random states, seed the streams, restore both on exit."""
    snap = ModelSnapshot(model)
    grad_mode = torch.is_grad_enabled()
    try:
        with seeded_rng(seed):
            yield snap
    finally:
        torch.set_grad_enabled(grad_mode)
        snap.restore()


def _graph_tensors(value, memo: dict, depth: int = 0) -> None:
    """Map every non-leaf tensor reachable through lists, tuples and dicts to a detached copy."""
    if isinstance(value, torch.Tensor):
        if not value.is_leaf and id(value) not in memo:
            memo[id(value)] = value.detach().clone()
    elif depth < 4 and isinstance(value, (list, tuple)):
        for item in value:
            _graph_tensors(item, memo, depth + 1)
    elif depth < 4 and isinstance(value, dict):
        for item in value.values():
            _graph_tensors(item, memo, depth + 1)


def detached_deepcopy(model: nn.Module) -> nn.Module:
    """``copy.deepcopy(model)``, with the graph tensors it holds copied detached.

    A forward can leave non-leaf tensors on a module (MONAI ``DynUNet``'s deep-supervision
    heads, the legacy ``weight_norm``'s computed weight), and those refuse to be deep-copied
    (pytorch/pytorch#103001). Their detached values are what any later forward reads or
    overwrites, so a detached copy is a faithful one.

    >>> import torch, torch.nn as nn
    >>> m = nn.Linear(2, 2)
    >>> m.last = [m(torch.ones(1, 2))]  # a graph tensor kept from a forward
    >>> c = detached_deepcopy(m)
    >>> c.last[0].requires_grad, torch.equal(c.last[0], m.last[0]), c.weight is m.weight
    (False, True, False)
    """
    memo: dict = {}
    for module in model.modules():
        for value in vars(module).values():
            _graph_tensors(value, memo)
    return copy.deepcopy(model, memo)
