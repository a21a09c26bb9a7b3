"""helpers.plot."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from helpers import data, plot  # noqa: E402


def test_density_grid_of_a_mixture_integrates_to_one():
    xs, ys, dens = plot.density_grid(data.ring(std=0.2).log_prob, lim=(-2, 2), n=300)
    h = xs[1] - xs[0]
    assert dens.shape == (300, 300)
    assert dens.sum() * h * h == pytest.approx(1.0, abs=5e-3)


def test_scatter_and_density_label_axes():
    fig, (a, b) = plt.subplots(1, 2)
    plot.scatter2d(a, torch.zeros(10, 2), title="t")
    plot.plot_density(b, data.grid().log_prob, lim=(-5, 5), n=20)
    assert a.get_xlabel() and a.get_ylabel() and a.get_title() == "t"
    assert b.get_xlabel() and b.get_ylabel()
    plt.close(fig)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        plot.scatter2d(a, np.zeros((3, 3)))


def test_use_book_style_changes_rcparams_only_when_called():
    with matplotlib.rc_context():
        plot.use_book_style()
        assert matplotlib.rcParams["axes.grid"] is True


def test_building_book_follows_the_environment(monkeypatch):
    monkeypatch.setenv("GM4S_BOOK_BUILD", "1")
    assert plot.building_book()
    monkeypatch.delenv("GM4S_BOOK_BUILD")
    assert not plot.building_book()
