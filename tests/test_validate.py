"""helpers.validate: each check returns good values normalised, and names the argument in the
error for each kind of bad one: TypeError for a wrong type, ValueError for a wrong value."""

import math

import numpy as np
import pytest
import torch

from helpers import validate


@pytest.mark.parametrize("value,minimum", [(1, 1), (0, 0), (np.int64(7), 1), (np.int32(10), 10), (10**12, 2)])
def test_positive_int_returns_a_python_int(value, minimum):
    out = validate.positive_int(value, "n", minimum=minimum)
    assert out == value and type(out) is int


@pytest.mark.parametrize("bad", [True, False, np.True_, 2.0, 2.5, np.float64(3.0), "3", None, torch.tensor(3)])
def test_positive_int_rejects_non_integers_with_a_type_error(bad):
    with pytest.raises(TypeError, match=r"^n_layers must be an integer >= 1, got "):
        validate.positive_int(bad, "n_layers")


@pytest.mark.parametrize("bad,minimum,maximum,wanted", [
    (0, 1, None, "an integer >= 1"), (-3, 0, None, "an integer >= 0"), (9, 10, None, "an integer >= 10"),
    (5, 0, 4, r"an integer in \[0, 4\]"), (-1, 0, 4, r"an integer in \[0, 4\]"),
])
def test_positive_int_rejects_out_of_range_values_with_a_value_error(bad, minimum, maximum, wanted):
    with pytest.raises(ValueError, match=rf"^max_lag must be {wanted}, got {bad}$"):
        validate.positive_int(bad, "max_lag", minimum=minimum, maximum=maximum)


def test_positive_int_bounds_are_inclusive():
    assert validate.positive_int(0, "k", minimum=0, maximum=0) == 0
    assert validate.positive_int(4, "k", minimum=0, maximum=4) == 4


@pytest.mark.parametrize("value", [1e-300, 0.5, 3, np.float32(0.25), np.int64(2), torch.tensor(0.125)])
def test_positive_float_returns_a_python_float(value):
    out = validate.positive_float(value, "std")
    assert type(out) is float and out == float(value) and out > 0


@pytest.mark.parametrize("bad", [True, np.True_, "1.0", None, [1.0], torch.ones(2), np.ones(2), 1j])
def test_positive_float_rejects_non_numbers_with_a_type_error(bad):
    with pytest.raises(TypeError, match="^kT must be a positive number, got "):
        validate.positive_float(bad, "kT")


@pytest.mark.parametrize("bad", [0, 0.0, -0.0, -1e-12, -5, math.inf, -math.inf, math.nan])
def test_positive_float_rejects_zero_negative_and_non_finite_values(bad):
    with pytest.raises(ValueError, match="^step_size must be a positive number, got "):
        validate.positive_float(bad, "step_size")


def test_non_negative_float_admits_zero_and_nothing_below():
    assert validate.non_negative_float(0, "eta") == 0.0 and type(validate.non_negative_float(0, "eta")) is float
    assert validate.non_negative_float(2.5, "eta") == 2.5
    for bad in (-1e-12, math.inf, math.nan):
        with pytest.raises(ValueError, match="^eta must be a non-negative number, got "):
            validate.non_negative_float(bad, "eta")
    with pytest.raises(TypeError, match="^eta must be a non-negative number, got "):
        validate.non_negative_float(False, "eta")


@pytest.mark.parametrize("allow_zero,allow_one,interval", [
    (True, True, r"\[0, 1\]"), (False, True, r"\(0, 1\]"), (True, False, r"\[0, 1\)"), (False, False, r"\(0, 1\)"),
])
def test_probability_admits_exactly_its_interval(allow_zero, allow_one, interval):
    kw = {"allow_zero": allow_zero, "allow_one": allow_one}
    assert validate.probability(0.5, "q", **kw) == 0.5
    assert type(validate.probability(np.float32(0.5), "q", **kw)) is float
    for end, allowed in ((0, allow_zero), (1, allow_one)):
        if allowed:
            assert validate.probability(end, "q", **kw) == float(end)
        else:
            with pytest.raises(ValueError, match=rf"^q must be a number in {interval}, got {end}$"):
                validate.probability(end, "q", **kw)
    for bad in (-0.1, 1.1, math.nan, math.inf):
        with pytest.raises(ValueError, match=rf"^q must be a number in {interval}, got "):
            validate.probability(bad, "q", **kw)
    with pytest.raises(TypeError, match=rf"^q must be a number in {interval}, got "):
        validate.probability("0.5", "q", **kw)


def test_tensor_returns_the_tensor_itself():
    x = torch.zeros(5, 2)
    assert validate.tensor(x, "x") is x
    assert validate.tensor(x, "x", shape=("batch", 2), floating=True) is x
    assert validate.tensor(x, "x", shape=(..., 2)) is x
    for y, shape in ((torch.zeros(3, 4, 2), (..., 2)), (torch.zeros(2), (..., 2)),  # ... may stand for none
                     (torch.zeros(3, 4, 2), (..., "batch", 2)), (torch.zeros(4, 3), ("n", 3))):
        assert validate.tensor(y, "x", shape=shape) is y
    y = torch.zeros(2, 2, dtype=torch.long)
    assert validate.tensor(y, "x", shape=("n", "d"), min_len=2) is y


@pytest.mark.parametrize("bad", [[[0.0, 0.0]], np.zeros((5, 2)), 0.0, None])
def test_tensor_rejects_non_tensors_with_a_type_error(bad):
    with pytest.raises(TypeError, match=r"^x must be a torch.Tensor of shape \(batch, 2\), got "):
        validate.tensor(bad, "x", shape=("batch", 2))


def test_tensor_rejects_an_integer_tensor_where_floats_are_wanted():
    with pytest.raises(TypeError, match="^z must be a floating-point tensor, got dtype torch.int64$"):
        validate.tensor(torch.zeros(5, 2, dtype=torch.long), "z", floating=True)
    assert validate.tensor(torch.zeros(5, 2, dtype=torch.float64), "z", floating=True).dtype == torch.float64


@pytest.mark.parametrize("value,shape,min_len,message", [
    (torch.zeros(5, 3), ("batch", 2), 0, r"x must have shape \(batch, 2\), got \(5, 3\)"),
    (torch.zeros(5, 2, 1), ("batch", 2), 0, r"x must have shape \(batch, 2\), got \(5, 2, 1\)"),
    (torch.zeros(()), (..., 2), 0, r"x must have shape \(\.\.\., 2\), got \(\)"),
    (torch.zeros(4, 3), (..., 2), 0, r"x must have shape \(\.\.\., 2\), got \(4, 3\)"),
    (torch.zeros(3), ("n", "dim"), 2, r"x must have shape \(n >= 2, dim\), got \(3,\)"),
    (torch.zeros(1, 2), ("n", "dim"), 2, r"x must have shape \(n >= 2, dim\), got \(1, 2\)"),
    (torch.zeros(0), ("T",), 1, r"x must have shape \(T >= 1,\), got \(0,\)"),
])
def test_tensor_rejects_the_wrong_shape_with_a_value_error(value, shape, min_len, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        validate.tensor(value, "x", shape=shape, min_len=min_len)
