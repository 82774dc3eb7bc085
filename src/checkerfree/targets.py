"""Build a model named on the command line, and load its weights safely.

A TARGET is ``package.module:factory``, ``path/to/file.py:factory`` (a callable returning an
``nn.Module``, called without arguments) or the name of a built-in example
(:data:`checkerfree.zoo.EXAMPLES`). Weights come only from safetensors files or from
``torch.load(..., weights_only=True)``: no arbitrary object is ever unpickled.

>>> model, example = load_target("espcn-icnr")
>>> type(model).__name__, example.input_shape
('Sequential', (2, 3, 32, 32))
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from checkerfree.errors import InvalidArgumentError, InvalidTypeError, ShapeError
from checkerfree.zoo import EXAMPLES, Example

__all__ = ["load_target", "load_weights"]


def _first_words(exc: BaseException) -> str:
    """The error's class and first sentence, without terminal colour codes.

    torch's weights-only refusal goes on to explain how to load the file unsafely; that
    advice is not ours to repeat.
    """
    text = re.sub(r"\x1b\[[0-9;]*m", "", _one_line(exc))
    return text.split(". ")[0].rstrip(".")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def load_target(target: str) -> tuple[nn.Module, Example | None]:
    """The module TARGET names, and its built-in example record (None for user targets)."""
    if not isinstance(target, str) or not target:
        raise InvalidArgumentError(f"TARGET must be a non-empty string, got {target!r}")
    if target in EXAMPLES:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # built-in examples are the same model every run
            return EXAMPLES[target].factory(), EXAMPLES[target]
    if ":" not in target:
        raise InvalidArgumentError(
            f"unknown TARGET {target!r}: expected package.module:factory, "
            f"path/to/file.py:factory, or one of {', '.join(sorted(EXAMPLES))}")
    where, _, attr = target.rpartition(":")
    if where.endswith(".py") or "/" in where or "\\" in where:
        path = Path(where)
        if not path.is_file():
            raise InvalidArgumentError(f"TARGET file {where!r} does not exist")
        spec = importlib.util.spec_from_file_location(f"_checkerfree_target_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise InvalidArgumentError(f"TARGET file {where!r} failed to import: "
                                       f"{_one_line(exc)}") from exc
    else:
        try:
            module = importlib.import_module(where)
        except Exception as exc:
            raise InvalidArgumentError(f"TARGET module {where!r} failed to import: "
                                       f"{_one_line(exc)}") from exc
    factory = getattr(module, attr, None)
    if factory is None:
        raise InvalidArgumentError(f"TARGET {where!r} has no attribute {attr!r}")
    try:
        model = factory() if callable(factory) and not isinstance(factory, nn.Module) else factory
    except Exception as exc:
        raise InvalidArgumentError(f"TARGET factory {target!r} failed: {_one_line(exc)}") from exc
    if not isinstance(model, nn.Module):
        raise InvalidTypeError(
            f"TARGET {target!r} must give an nn.Module, got {type(model).__name__}")
    return model, None


def load_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a state dict into ``model`` from safetensors or a ``weights_only`` torch file.

    Missing or unexpected keys and shape mismatches are refused with a typed error that
    names the first few of them.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidArgumentError(f"weights file {str(path)!r} does not exist")
    if path.suffix == ".safetensors":
        from checkerfree.errors import require

        st = require("safetensors.torch", "weights")
        try:
            state = st.load_file(str(path))
        except Exception as exc:
            raise InvalidArgumentError(f"cannot read safetensors file {str(path)!r}: "
                                       f"{_one_line(exc)}") from exc
    else:
        try:
            # torch warns about a raw pickle's protocol (three lines, suggesting
            # weights_only=False); the one line below says what is wrong instead.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise InvalidArgumentError(
                f"cannot read {str(path)!r} with torch.load(weights_only=True): only tensors "
                "and plain containers are accepted, never pickled objects (save "
                f"model.state_dict() with torch.save or safetensors): {_first_words(exc)}"
            ) from exc
        if isinstance(state, dict) and "state_dict" in state and isinstance(
                state["state_dict"], dict):
            state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InvalidTypeError(f"{str(path)!r} does not hold a state dict of tensors")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
             if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        parts = []
        for label, items in (("missing", missing), ("unexpected", unexpected),
                             ("shape mismatch", wrong)):
            if items:
                parts.append(f"{label}: {', '.join(items[:3])}"
                             + (f" (+{len(items) - 3} more)" if len(items) > 3 else ""))
        raise ShapeError(f"weights in {str(path)!r} do not match the model: " + "; ".join(parts))
    model.load_state_dict(state)
    return model
