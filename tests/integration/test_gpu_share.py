"""`--gpu-share`: networks asking Ray for a fraction of a GPU share one GPU at once (Ray's fake GPU,
`ray.init(num_gpus=1)`: no GPU here); a share on a cluster without GPUs is one line, before any run."""

import time

import pytest

from lth_tf.errors import UserError
from lth_tf.settings import build_config
from pipelines.execution.ray import network_resources, ray_session, task

ray = pytest.importorskip("ray")


@pytest.fixture
def one_gpu_ray():
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _overlap(share):
    """Whether two tasks asking for `share` of a GPU ran at once; the GPU ids Ray gave each."""
    def hold(seconds: float):  # nested: Ray's workers cannot import the test module, so it travels by value
        import ray

        start = time.monotonic()
        time.sleep(seconds)
        return start, time.monotonic(), ray.get_gpu_ids()

    hold = task(hold, network_resources(share))
    (a_start, a_end, a_gpus), (b_start, b_end, b_gpus) = ray.get([hold.remote(3.0), hold.remote(3.0)])
    return (min(a_end, b_end) - max(a_start, b_start)) > 1.0, a_gpus, b_gpus


def test_half_a_gpu_each_puts_two_networks_on_one_gpu_at_once(one_gpu_ray):
    assert network_resources(0.5) == {"num_gpus": 0.5} and network_resources() == {"num_gpus": 1}
    together, a_gpus, b_gpus = _overlap(0.5)
    assert together and a_gpus == b_gpus == [0]
    together, _, _ = _overlap(None)  # a whole GPU each: one after the other
    assert not together


def test_a_gpu_share_on_a_cluster_without_gpus_is_one_line():
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        engine = build_config({"workers": 1, "gpu_share": 0.5}).engine
        with pytest.raises(UserError, match="--gpu-share 0.5: the Ray cluster has no GPU"):
            with ray_session(engine):
                pass
    finally:
        ray.shutdown()
