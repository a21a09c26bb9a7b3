"""helpers.train.train: the loop minimises what it is given and reports faithfully."""

import pytest
import torch

from helpers.train import train


def test_train_solves_least_squares():
    torch.manual_seed(0)
    x = torch.randn(256, 3)
    w_true = torch.tensor([1.0, -2.0, 0.5])
    y = x @ w_true
    w = torch.zeros(3, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1)
    hist = train(lambda s: ((x @ w - y) ** 2).mean(), opt, 300, progress=False)
    assert torch.allclose(w.detach(), w_true, atol=1e-4)
    assert len(hist["loss"]) == 300 and hist["loss"][-1] < 1e-8 < hist["loss"][0]


def test_train_logs_extras_and_steps_the_scheduler():
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    hist = train(lambda s: (((w - 1) ** 2).sum(), {"step": s}), opt, 4, scheduler=sched, progress=False)
    assert hist["step"] == [0, 1, 2, 3]
    assert opt.param_groups[0]["lr"] == pytest.approx(1 / 16)


def test_train_clips_gradients():
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=1.0)
    train(lambda s: (1000 * w).sum(), opt, 1, clip_grad=0.5, progress=False)
    assert float(w.detach()) == pytest.approx(-0.5)


def test_train_rejects_bad_input():
    w = torch.zeros(2, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="n_steps must be an integer >= 1"):
        train(lambda s: w.sum(), opt, 0)
    with pytest.raises(TypeError, match="n_steps must be an integer >= 1"):
        train(lambda s: w.sum(), opt, 10.0)
    with pytest.raises(ValueError, match="clip_grad must be a positive number"):
        train(lambda s: w.sum(), opt, 1, clip_grad=0.0)
    with pytest.raises(ValueError, match="scalar tensor"):
        train(lambda s: w * 2, opt, 1, progress=False)
    with pytest.raises(ValueError, match="loss became nan at step 0"):
        train(lambda s: w.sum() * float("nan"), opt, 1, progress=False)
