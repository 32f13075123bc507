"""The shared torch trainer (early stopping, best weights, progress, mixed precision) and device choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pinelab_core.errors import ConfigError
from pinelab_core.models import device as device_module
from pinelab_core.models.base import TrainingProgress
from pinelab_core.models.device import choose_device, configure_cpu_threads, device_summary, xgboost_device
from pinelab_core.models.schema import balanced_class_weights
from pinelab_core.models.trainer import TrainerConfig, _precision, _train_epoch, train_classifier


class _Linear(nn.Module):
    def __init__(self, n_inputs: int = 4) -> None:
        super().__init__()
        self.n_classes = 3
        self.layer = nn.Linear(n_inputs, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


def _problem(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, np.digitize(x[:, 0], [-0.4, 0.4]).astype(np.int64)


def test_early_stopping_restores_the_best_epoch_and_reports_each_epoch() -> None:
    x, y = _problem()
    rng = np.random.default_rng(1)
    noise_labels = rng.integers(0, 3, 100)  # unlearnable validation: its loss soon stops improving
    torch.manual_seed(0)
    net = _Linear()
    ticks: list[TrainingProgress] = []
    config = TrainerConfig(epochs=40, batch_size=32, learning_rate=0.05, patience=2, device="cpu", seed=0)
    summary = train_classifier(net, (x, y), (rng.normal(size=(100, 4)).astype(np.float32), noise_labels),
                               config, ticks.append)
    assert len(ticks) < 40, "stopped early"
    assert [t.step for t in ticks] == list(range(1, len(ticks) + 1))
    assert all(t.total == 40 and t.train_loss is not None and t.val_loss is not None for t in ticks)
    best = min(ticks, key=lambda t: t.val_loss)
    assert summary.best_iteration == best.step and summary.val_loss == best.val_loss
    assert len(ticks) == best.step + config.patience
    assert summary.device == "cpu" and summary.history == ticks


def test_restored_weights_reproduce_the_best_validation_loss() -> None:
    from pinelab_core.models.trainer import _evaluate

    x, y = _problem()
    xv, yv = _problem(120, seed=5)
    yv = np.where(np.arange(120) % 2 == 0, yv, (yv + 1) % 3)  # half wrong: validation peaks then degrades
    torch.manual_seed(0)
    net = _Linear()
    config = TrainerConfig(epochs=30, batch_size=16, learning_rate=0.1, patience=3, device="cpu")
    summary = train_classifier(net, (x, y), (xv, yv), config)
    weight = torch.as_tensor(balanced_class_weights(y, 3), dtype=torch.float32)
    again = _evaluate(net, xv, yv, weight, _precision(torch.device("cpu"), False), config, torch.device("cpu"))
    assert again == pytest.approx(summary.val_loss, rel=1e-6)


def test_without_validation_every_epoch_runs() -> None:
    x, y = _problem(64)
    torch.manual_seed(0)
    summary = train_classifier(_Linear(), (x, y), None, TrainerConfig(epochs=3, batch_size=16, device="cpu"))
    assert summary.best_iteration == 3 and summary.val_loss is None and len(summary.history) == 3


def test_training_is_deterministic_with_a_seed() -> None:
    x, y = _problem()
    weights = []
    for _ in range(2):
        torch.manual_seed(0)
        net = _Linear()
        train_classifier(net, (x, y), None, TrainerConfig(epochs=3, batch_size=32, device="cpu", seed=4))
        weights.append(net.layer.weight.detach().clone())
    assert torch.equal(weights[0], weights[1])


def test_mixed_precision_step_with_grad_scaler_runs_on_cpu_backend() -> None:
    """The CUDA code path (autocast + GradScaler.scale/unscale_/step/update), exercised on torch's CPU backend."""
    from pinelab_core.models.trainer import _Precision

    x, y = _problem(64)
    torch.manual_seed(0)
    net = _Linear()
    before = net.layer.weight.detach().clone()
    precision = _Precision(torch.bfloat16, torch.amp.GradScaler("cpu", init_scale=2.0**8))
    optimizer = torch.optim.AdamW(net.parameters(), lr=0.01)
    weight = torch.ones(3)
    loss = _train_epoch(net, x, y, np.arange(64), optimizer, weight, precision, TrainerConfig(batch_size=16),
                        torch.device("cpu"))
    assert np.isfinite(loss) and not torch.equal(before, net.layer.weight)


@pytest.mark.filterwarnings("ignore:torch.cuda.amp.GradScaler is enabled, but CUDA is not available")
def test_precision_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _precision(torch.device("cpu"), True).dtype is None, "CPU trains in float32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert _precision(torch.device("cuda"), True).dtype is torch.bfloat16
    assert _precision(torch.device("cuda"), False).dtype is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert _precision(torch.device("cuda"), True).dtype is torch.float16


def test_balanced_class_weights() -> None:
    weights = balanced_class_weights(np.array([0, 0, 0, 2]), 3)
    np.testing.assert_allclose(weights, [4 / 6, 1.0, 4 / 2])


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_module, "_mps_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


@pytest.mark.usefixtures("no_gpu")
def test_device_choice_without_a_gpu() -> None:
    assert choose_device("auto") == torch.device("cpu")
    assert choose_device("CPU") == torch.device("cpu")
    assert xgboost_device("auto") == "cpu"
    with pytest.raises(ConfigError, match="no CUDA GPU is available"):
        choose_device("cuda")
    with pytest.raises(ConfigError, match="MPS is not available"):
        choose_device("mps")
    with pytest.raises(ConfigError, match="not a device"):
        choose_device("gpu")
    summary = device_summary("auto")
    assert summary.device == "cpu" and summary.cpu_threads >= 1 and "cpu" in summary.describe()


@pytest.mark.usefixtures("two_gpus")
def test_device_choice_with_gpus() -> None:
    assert choose_device("auto") == torch.device("cuda", 0)
    assert choose_device("cuda:1") == torch.device("cuda", 1)
    assert xgboost_device("auto") == "cuda:0"
    assert choose_device("cpu") == torch.device("cpu"), "an explicit cpu wins over a present GPU"
    with pytest.raises(ConfigError, match="has 2 CUDA device"):
        choose_device("cuda:5")


def test_mps_is_chosen_when_it_is_the_only_accelerator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_module, "_mps_available", lambda: True)
    assert choose_device("auto") == torch.device("mps")
    assert xgboost_device("auto") == "cpu", "XGBoost has no MPS backend"


def test_cpu_threads_are_set_to_physical_cores() -> None:
    previous = torch.get_num_threads()
    try:
        assert configure_cpu_threads() == device_module.cpu_threads() == torch.get_num_threads()
        assert configure_cpu_threads(1) == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_lstm_trains_on_the_gpu_with_mixed_precision() -> None:
    from pinelab_core.models import create_model
    from tests.models_fixtures import separable_problem

    X, y = separable_problem()
    model = create_model("lstm", device="cuda", epochs=2, window=8, hidden=16, heads=2)
    summary = model.fit(X.iloc[:300], y[:300], validation=(X.iloc[300:400], y[300:400]))
    assert summary.device.startswith("cuda") and model.fitted_device_.startswith("cuda")
    proba = model.predict_proba(X.iloc[400:])
    np.testing.assert_allclose(proba[7:].sum(axis=1), 1.0, atol=1e-3)
