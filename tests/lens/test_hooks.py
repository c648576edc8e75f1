"""Sites by module path on Flax modules that know nothing of physlens, and the HookPoint aliases."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.hooks import HookPoint, Lens, list_hook_names, list_hook_points


class Shared(nn.Module):
    """A plain Flax module that calls one Dense twice and has a nested block."""

    @nn.compact
    def __call__(self, x):
        dense = nn.Dense(3, name="shared", param_dtype=jnp.float64)
        block = nn.Sequential([nn.Dense(4, param_dtype=jnp.float64), nn.relu, nn.Dense(3, param_dtype=jnp.float64)])
        h = dense(x)
        h = block(h)
        h = dense(jnp.concatenate([h, x[..., 3:]], axis=-1))
        h = HookPoint(name="alias")(h)
        return h.sum(-1)


@pytest.fixture(scope="module")
def opened():
    model = Shared()
    x = np.linspace(-1, 1, 12).reshape(2, 6)
    return model, model.init(jax.random.PRNGKey(0), x), x


def test_every_submodule_is_a_site_in_call_order_and_repeats_are_numbered(opened):
    model, variables, x = opened
    names = list_hook_names(model, variables, x)
    assert names == ["shared", "Sequential_0", "Dense_0", "Dense_1", "shared#1", "alias"]
    assert list_hook_points(model, variables, x) == ["alias"]
    assert Lens(model, variables, x[:1]).hook_names() == names


def test_cache_holds_each_call_and_matches_a_hand_forward_pass(opened):
    model, variables, x = opened
    _, cache = Lens(model, variables).run_with_cache(x, ["shared", "shared#1", "Dense_0"])
    p = variables["params"]
    first = x @ p["shared"]["kernel"] + p["shared"]["bias"]
    hidden = first @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]
    assert np.allclose(cache["shared"], first, atol=1e-14)
    assert np.allclose(cache["Dense_0"], hidden, atol=1e-14)
    assert cache["shared#1"].shape == (2, 3)


def test_rewriting_the_second_call_only(opened):
    model, variables, x = opened
    lens = Lens(model, variables)
    out = lens.run_with_hooks(x, {"shared#1": lambda h: 2 * h})
    _, cache = lens.run_with_cache(x, ["shared#1"])
    assert np.allclose(out, 2 * cache["shared#1"].sum(-1), atol=1e-14)


def test_unknown_names_list_the_sites(opened):
    model, variables, x = opened
    with pytest.raises(PhyslensError, match=r"unknown hook point\(s\) nope; this model has: shared, Sequential_0"):
        Lens(model, variables).run_with_cache(x, ["nope"])
    with pytest.raises(PhyslensError, match="no example input"):
        Lens(model, variables).hook_names()


def test_width_of_a_site(opened):
    model, variables, x = opened
    assert Lens(model, variables, x).width("Dense_0") == 4
