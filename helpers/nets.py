"""Small network builders shared by every model family."""

from __future__ import annotations

from torch import nn

from helpers import validate

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
}


def mlp(
    in_dim: int,
    out_dim: int,
    hidden: int = 128,
    n_hidden: int = 2,
    activation: str = "relu",
) -> nn.Sequential:
    """A multilayer perceptron (batch, in_dim) -> (batch, out_dim).

    Args:
        in_dim, out_dim: input and output widths (positive).
        hidden: width of each hidden layer.
        n_hidden: number of hidden layers (0 gives a single linear map).
        activation: one of ``relu``, ``leaky_relu``, ``silu``, ``tanh``, ``elu``.
    """
    for name, v in (("in_dim", in_dim), ("out_dim", out_dim), ("hidden", hidden)):
        validate.positive_int(v, name)
    validate.positive_int(n_hidden, "n_hidden", minimum=0)
    if activation not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected one of {sorted(_ACTIVATIONS)}")
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(n_hidden):
        layers += [nn.Linear(width, hidden), _ACTIVATIONS[activation]()]
        width = hidden
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)
