"""PyTorch Lightning: FlexgitLogger records the training at finalize, with its status and best checkpoint."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning")

from conftest import make_repo  # noqa: E402
from integration_shape import assert_same_shape  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

import flexgit  # noqa: E402
from flexgit.integrations.lightning import FlexgitLogger  # noqa: E402


class Tiny(L.LightningModule):
    def __init__(self, lr=0.05, hidden=4, fail_at=-1, optimizer={"name": "sgd", "momentum": 0.0}):  # noqa: B006
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(3, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1))

    def training_step(self, batch, index):
        if self.global_step == self.hparams.fail_at:
            raise RuntimeError("loss exploded")
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, index):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def test_step(self, batch, index):
        x, y = batch
        self.log("test_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def loader():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(32, 3, generator=generator)
    return DataLoader(TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=8)


def trainer(repo, logger, **kwargs):
    checkpoints = L.pytorch.callbacks.ModelCheckpoint(monitor="val_loss", mode="min")
    return L.Trainer(max_epochs=3, logger=logger, callbacks=[checkpoints], default_root_dir=repo / "logs",
                     accelerator="cpu", devices=1, log_every_n_steps=1, enable_progress_bar=False,
                     enable_model_summary=False, **kwargs), checkpoints


@pytest.fixture
def repo(tmp_path):
    repo = make_repo(tmp_path / "project")
    (repo / ".gitignore").write_text("logs/\n")
    return repo


def test_a_fit_is_a_run_with_hyperparams_history_and_best_checkpoint(repo):
    logger = FlexgitLogger(repo=repo, name="tiny-fit")
    fit, checkpoints = trainer(repo, logger)
    fit.fit(Tiny(lr=0.1), loader(), loader())
    run = logger.run
    assert run is not None and run.name == "tiny-fit" and run.status == "ok"
    assert run.params["lr"] == 0.1 and run.params["hidden"] == 4 and run.params["optimizer.name"] == "sgd"
    assert run.meta["history_steps"] >= 12 and "train_loss" in run.metrics and "val_loss" in run.metrics
    assert run.metrics["best_model_score"] == pytest.approx(float(checkpoints.best_model_score))
    assert run.meta["framework"] == f"lightning {L.__version__}"
    best = checkpoints.best_model_path
    assert best.startswith(str(repo / "logs" / "flexgit" / logger.version / "checkpoints"))
    shape = assert_same_shape(repo, run.name, files=True)
    (kept,) = shape["outputs"]
    assert kept.startswith(str((repo / "logs").relative_to(repo)))
    fit.test(Tiny(lr=0.1), loader(), ckpt_path=best)  # metrics after the run was recorded are added to it
    (again,) = flexgit.list_runs(repo=repo)
    assert "test_loss" in again.metrics and again.id == run.id


def test_a_failing_training_step_leaves_a_failed_run(repo):
    logger = FlexgitLogger(repo=repo)
    fit, _ = trainer(repo, logger)
    with pytest.raises(RuntimeError, match="loss exploded"):
        fit.fit(Tiny(fail_at=5), loader(), loader())
    (run,) = flexgit.list_runs(repo=repo)
    assert run.status == "failed" and run.params["fail_at"] == 5
    assert run.meta["history_steps"] >= 4  # the steps before the failure
    assert_same_shape(repo, run.name, status="failed")


def test_a_taken_name_is_refused_before_training(repo):
    flexgit.record(name="taken", repo=repo)
    with pytest.raises(flexgit.FlexgitError, match="exists"):
        FlexgitLogger(repo=repo, name="taken")


def test_a_name_taken_while_training_never_stops_it_and_the_run_gets_another_name(repo):
    """Two trainings given one name (two scripts started alike): the first records it; the second,
    days later, must end as Lightning ends it, its run recorded under a generated name, with a warning."""
    first, second = FlexgitLogger(repo=repo, name="same"), FlexgitLogger(repo=repo, name="same")
    assert first.version != second.version  # made in the same second: each its own checkpoint folder
    trainer(repo, first)[0].fit(Tiny(), loader(), loader())
    fit, checkpoints = trainer(repo, second)
    with pytest.warns(RuntimeWarning, match="run name 'same' was taken while this training ran; it is recorded as"):
        fit.fit(Tiny(lr=0.2), loader(), loader())
    assert first.run.name == "same" and second.run.name != "same" and second.run.status == "ok"
    assert second.run.params["lr"] == 0.2
    assert checkpoints.best_model_path.startswith(str(repo / "logs" / "flexgit" / second.version))


def test_a_flexgit_failure_inside_a_hook_is_a_warning_and_training_goes_on(repo):
    logger = FlexgitLogger(repo=repo)
    (repo / ".flexgit.toml").write_text("outputs = [\n")  # broken while it trains: no record can read it
    fit, _ = trainer(repo, logger)
    with pytest.warns(RuntimeWarning, match=r"flexgit could not record this training \(InputError: settings file"):
        fit.fit(Tiny(), loader(), loader())
    assert fit.state.finished and logger.run is None
