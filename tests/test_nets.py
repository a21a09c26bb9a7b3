"""helpers.nets.mlp."""

import pytest
import torch

from helpers.nets import mlp


def test_mlp_shapes_and_depth():
    net = mlp(3, 5, hidden=7, n_hidden=2, activation="silu")
    assert net(torch.zeros(4, 3)).shape == (4, 5)
    assert sum(isinstance(m, torch.nn.Linear) for m in net) == 3
    assert len(mlp(3, 5, n_hidden=0)) == 1


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"in_dim": 0, "out_dim": 1}, "in_dim must be an integer >= 1"),
        ({"in_dim": 2, "out_dim": 1, "n_hidden": -1}, "n_hidden must be an integer >= 0"),
        ({"in_dim": 2, "out_dim": 1, "activation": "swish"}, "unknown activation 'swish'"),
    ],
)
def test_mlp_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mlp(**kwargs)
