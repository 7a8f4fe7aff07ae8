"""Hugging Face Transformers: FlexgitCallback records a Trainer's training; one that raises is a failed run."""

from __future__ import annotations

import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # a tiny model built here: nothing is downloaded
os.environ["TRANSFORMERS_OFFLINE"] = "1"
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from conftest import make_repo  # noqa: E402
from integration_shape import assert_same_shape  # noqa: E402

import flexgit  # noqa: E402
from flexgit.integrations.transformers import FlexgitCallback  # noqa: E402


class Tokens(torch.utils.data.Dataset):
    """Random token sequences labelled by their first token's parity; reading fails after `fail_after` reads."""

    def __init__(self, size=16, fail_after=None):
        generator = torch.Generator().manual_seed(0)
        self.ids = torch.randint(1, 30, (size, 6), generator=generator)
        self.fail_after, self.reads = fail_after, 0

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, index):
        self.reads += 1
        if self.fail_after is not None and self.reads > self.fail_after:
            raise OSError("the shard holding this example is gone")
        return {"input_ids": self.ids[index], "labels": int(self.ids[index, 0] % 2)}


def tiny_model():
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=16, max_position_embeddings=16, num_labels=2)
    return transformers.BertForSequenceClassification(config)


def trainer(tmp_path, callback, train):
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), num_train_epochs=2,
                                          per_device_train_batch_size=4, learning_rate=0.01, logging_steps=1,
                                          eval_strategy="epoch", save_strategy="no", report_to="none",
                                          use_cpu=True, disable_tqdm=True, dataloader_num_workers=0)
    return transformers.Trainer(model=tiny_model(), args=args, train_dataset=train, eval_dataset=Tokens(8),
                                callbacks=[callback])


def test_a_training_is_a_run_with_arguments_config_history_and_eval_metrics(tmp_path):
    repo = make_repo(tmp_path / "project")
    with FlexgitCallback(repo=repo, name="bert-tiny") as callback:
        hf = trainer(tmp_path, callback, Tokens())
        hf.train()
    run = callback.run
    assert run.name == "bert-tiny" and run.status == "ok"
    assert run.params["learning_rate"] == 0.01 and run.params["num_train_epochs"] == 2
    assert run.params["model.hidden_size"] == 8 and run.params["model.model_type"] == "bert"
    assert run.meta["history_steps"] >= 8 and "loss" in run.metrics and "train_runtime" in run.metrics
    assert "eval_loss" in run.metrics
    assert run.meta["framework"] == f"transformers {transformers.__version__}"
    assert_same_shape(repo, run.name)
    hf.evaluate(metric_key_prefix="final")  # after the run was recorded: added to it
    (again,) = flexgit.list_runs(repo=repo)
    assert "final_loss" in again.metrics and again.id == run.id


def test_a_failing_training_step_leaves_a_failed_run(tmp_path):
    repo = make_repo(tmp_path / "project")
    with pytest.raises(OSError, match="shard"), FlexgitCallback(repo=repo) as callback:
        trainer(tmp_path, callback, Tokens(fail_after=20)).train()  # in the second epoch
    (run,) = flexgit.list_runs(repo=repo)
    assert run.status == "failed" and run.params["learning_rate"] == 0.01
    assert run.meta["history_steps"] >= 4 and "eval_loss" in run.metrics  # the first epoch's steps and evaluation
    assert_same_shape(repo, run.name, status="failed")


def test_a_name_taken_while_training_never_stops_it_and_the_run_gets_another_name(tmp_path):
    repo = make_repo(tmp_path / "project")
    callback = FlexgitCallback(repo=repo, name="bert")
    flexgit.record(name="bert", repo=repo)  # another script, started alike, ended first
    hf = trainer(tmp_path, callback, Tokens())
    with pytest.warns(RuntimeWarning, match="run name 'bert' was taken while this training ran; it is recorded as"):
        hf.train()
    assert callback.run.name != "bert" and callback.run.status == "ok" and "loss" in callback.run.metrics
