import operator

import pytest
import torch

from helpers import parallel


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(parallel, "available_cores", lambda: 2)
    monkeypatch.delenv(parallel.SEQUENTIAL_ENV, raising=False)


def test_worker_processes_return_results_in_job_order(two_cores):
    jobs = [(2, k) for k in range(6)]
    assert parallel.map_fits(operator.pow, jobs) == [2**k for k in range(6)]


def test_workers_and_the_cpu_loop_run_one_torch_thread(two_cores, monkeypatch):
    assert parallel.map_fits(torch.get_num_threads, [(), ()]) == [1, 1]
    before = torch.get_num_threads()
    monkeypatch.setenv(parallel.SEQUENTIAL_ENV, "1")
    assert parallel.map_fits(torch.get_num_threads, [(), ()]) == [1, 1]  # the same arithmetic either way
    assert torch.get_num_threads() == before  # and the caller's setting comes back
    # off the CPU the loop keeps the caller's threads
    assert parallel.map_fits(torch.get_num_threads, [(), ()], device="meta") == [before] * 2


def test_seeded_jobs_give_the_same_result_in_workers_and_in_a_loop(two_cores, monkeypatch):
    from helpers.compare import Budget, run_for_table

    tiny = Budget(n_steps=20, batch_size=64, lr=1e-3)
    jobs = [("VAE", "moons", tiny), ("GAN", "moons", tiny)]
    par = parallel.map_fits(run_for_table, jobs, kwargs={"seed": 3, "n_show": 50})
    monkeypatch.setenv(parallel.SEQUENTIAL_ENV, "1")
    seq = parallel.map_fits(run_for_table, jobs, kwargs={"seed": 3, "n_show": 50})
    for (row_p, s_p), (row_s, s_s) in zip(par, seq, strict=True):
        assert torch.equal(s_p, s_s)
        assert row_p.energy == pytest.approx(row_s.energy, rel=1e-9)  # sums in another order
        assert row_p.nll == pytest.approx(row_s.nll, nan_ok=True)


def test_the_loop_leaves_the_callers_random_streams_as_a_worker_does(two_cores, monkeypatch):
    import random

    import numpy as np

    monkeypatch.setenv(parallel.SEQUENTIAL_ENV, "1")
    torch.manual_seed(7)
    np.random.seed(7)
    random.seed(7)
    expected = torch.rand(3), np.random.rand(3), random.random()
    torch.manual_seed(7)
    np.random.seed(7)
    random.seed(7)
    parallel.map_fits(torch.manual_seed, [(123,), (456,)])  # a fit that seeds itself
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1]) and random.random() == expected[2]


def test_bad_input_says_what_was_expected():
    with pytest.raises(ValueError, match="importable"):
        parallel.map_fits(lambda x: x, [(1,), (2,)])
    with pytest.raises(TypeError, match="tuple"):
        parallel.map_fits(operator.neg, [1, 2])
    with pytest.raises(TypeError, match="sequence"):
        parallel.map_fits(operator.neg, "ab")
    with pytest.raises(ValueError, match="max_workers"):
        parallel.map_fits(operator.neg, [(1,)], max_workers=0)
    with pytest.raises(TypeError, match="callable"):
        parallel.map_fits(3, [(1,)])
