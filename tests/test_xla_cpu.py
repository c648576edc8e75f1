import jax
import jax.numpy as jnp
import numpy as np

import physlens  # noqa: F401  (sets XLA_FLAGS before the first computation)
from physlens import xla_cpu
from physlens.xla_cpu import YNN_OPTION, library_fusion_options, use_library_fusions


def test_the_option_is_added_once_and_a_users_choice_is_kept(monkeypatch):
    monkeypatch.setattr(xla_cpu, "jaxlib_version", lambda: (0, 10))
    environ = {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false"}
    assert use_library_fusions(environ)
    assert environ["XLA_FLAGS"].startswith("--xla_cpu_multi_thread_eigen=false --" + YNN_OPTION + "=")
    assert "LIBRARY_FUSION_TYPE_ELTWISE" in environ["XLA_FLAGS"] and not use_library_fusions(environ)
    own = {"XLA_FLAGS": f"--{YNN_OPTION}=LIBRARY_FUSION_TYPE_REDUCE"}
    assert not use_library_fusions(own) and own["XLA_FLAGS"] == f"--{YNN_OPTION}=LIBRARY_FUSION_TYPE_REDUCE"


def test_an_unchecked_jaxlib_is_left_alone(monkeypatch):
    for version in ((0, 9), (0, 11), None):
        monkeypatch.setattr(xla_cpu, "jaxlib_version", lambda v=version: v)
        environ = {}
        assert not use_library_fusions(environ) and environ == {} and library_fusion_options() == {}


def test_compiler_options_follow_the_users_flags(monkeypatch):
    monkeypatch.setattr(xla_cpu, "jaxlib_version", lambda: (0, 10))
    monkeypatch.setenv("XLA_FLAGS", f"--{YNN_OPTION}=LIBRARY_FUSION_TYPE_REDUCE")
    assert library_fusion_options() == {}
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
    assert "LIBRARY_FUSION_TYPE_ELTWISE" in library_fusion_options()[YNN_OPTION]


def test_elementwise_log1p_goes_through_ynnpack_and_matches_numpy():
    x_BD = np.abs(np.random.default_rng(0).normal(size=(512, 100))) * 3
    log1p = jax.jit(jnp.log1p, compiler_options=library_fusion_options())
    compiled = log1p.lower(x_BD).compile().as_text()
    checked = xla_cpu.CHECKED_JAXLIB[0] <= (xla_cpu.jaxlib_version() or (0, 0)) < xla_cpu.CHECKED_JAXLIB[1]
    assert ("__ynn_fusion" in compiled) == checked
    got_BD = np.asarray(log1p(x_BD))
    ulp_BD = np.abs(got_BD - np.log1p(x_BD)) / np.spacing(np.log1p(x_BD))
    assert ulp_BD.max() <= 4
