"""Training: the decoder constraint holds, the loss falls, known sparse directions are recovered."""

import numpy as np
import pytest

from physlens.errors import PhyslensError
from physlens.lens.sae import JumpReLUConfig, ReLUConfig, TopKConfig, TrainConfig, train_sae

CONFIGS = {
    "relu": ReLUConfig(d_in=16, d_sae=48, l1_coefficient=0.05),
    "topk": TopKConfig(d_in=16, d_sae=48, k=3, dead_after_tokens=2048),
    "jumprelu": JumpReLUConfig(d_in=16, d_sae=48, l0_coefficient=0.01, bandwidth=0.01, initial_threshold=0.05),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_decoder_stays_unit_norm_and_loss_falls(sparse_dataset, name):
    acts, _ = sparse_dataset(n=2048, d=16, n_features=24, active=3, seed=0)
    sae, log = train_sae(CONFIGS[name], acts, TrainConfig(n_steps=600, batch_size=256, learning_rate=3e-3))
    np.testing.assert_allclose(np.linalg.norm(sae.params["W_dec"], axis=1), 1.0, atol=1e-12)
    assert len(log.loss_T) == 600 and np.isfinite(log.loss_T).all()
    assert log.loss_T[-50:].mean() < 0.5 * log.loss_T[:10].mean()
    np.testing.assert_allclose(log.loss_T, log.mse_T + log.penalty_T, rtol=1e-12)
    assert list(log.to_frame().columns) == ["loss", "mse", "penalty", "l0", "dead_fraction"]


def test_topk_recovers_known_sparse_directions(sparse_dataset):
    acts, dirs = sparse_dataset(n=8192, d=24, n_features=40, active=3, seed=1)
    cfg = TopKConfig(d_in=24, d_sae=96, k=3, dead_after_tokens=8192)
    sae, log = train_sae(cfg, acts, TrainConfig(n_steps=2500, batch_size=512, learning_rate=3e-3, seed=1))
    best_cos = np.abs(np.asarray(sae.params["W_dec"]) @ dirs.T).max(axis=0)
    assert np.mean(best_cos > 0.9) >= 0.9, np.sort(best_cos)
    assert log.penalty_T[0] == 0.0 and log.penalty_T.max() > 0, "AuxK switches on once latents die"
    assert (log.l0_T <= 3).all()


def test_training_is_seeded(sparse_dataset):
    acts, _ = sparse_dataset(n=512, d=16, n_features=24, active=3, seed=2)
    runs = [train_sae(CONFIGS["topk"], acts, TrainConfig(n_steps=30, batch_size=128, seed=s))[0] for s in (5, 5, 6)]
    np.testing.assert_array_equal(runs[0].params["W_dec"], runs[1].params["W_dec"])
    assert not np.allclose(runs[0].params["W_dec"], runs[2].params["W_dec"])


def test_steps_continue_across_epochs(sparse_dataset):
    acts, _ = sparse_dataset(n=300, d=16, n_features=24, active=3, seed=3)
    _, log = train_sae(CONFIGS["relu"], acts, TrainConfig(n_steps=7, batch_size=128))
    assert len(log.loss_T) == 7


def test_bad_training_input_is_refused(sparse_dataset):
    acts, _ = sparse_dataset(n=100, d=16, n_features=24, active=3, seed=4)
    with pytest.raises(PhyslensError, match="batch_size"):
        train_sae(CONFIGS["relu"], acts, TrainConfig(batch_size=128))
    with pytest.raises(PhyslensError, match=r"shape \(N, 16\)"):
        train_sae(CONFIGS["relu"], acts[:, :8])
    with pytest.raises(PhyslensError, match="n_steps"):
        TrainConfig(n_steps=0)
