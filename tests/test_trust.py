"""A model from someone else is never unpickled unless the user says so (issue 14, item 12)."""

from __future__ import annotations

import os
import pickle

import pytest

import flexgit
from flexgit import Application, BaseDataLoader, BaseModel, Configuration, Experiment
from flexgit.errors import TrustError, UnknownRunError
from flexgit.flex.components import ArtifactError
from conftest import flexgit as cli, git, make_repo, shared_clones


class Loader(BaseDataLoader):
    def load_data(self):
        return [1, 2, 3]


class Model(BaseModel):
    def predict(self, data):
        return data


class Bomb:
    """A pickle that makes a folder when it is loaded: the code a hostile model would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def hostile_model(path, marker):
    path.write_bytes(pickle.dumps(Bomb(marker)))
    return path


def pulled_hostile_run(tmp_path, same_identity=False):
    """(victim clone, marker): a colleague pushed run 'evil' whose model is a hostile pickle; the victim pulled it."""
    _, (victim, attacker) = shared_clones(tmp_path)
    if same_identity:  # the attacker writes the victim's user, email (and, on this machine, host) into meta
        git(attacker, "config", "user.name", "Machine 0")
        git(attacker, "config", "user.email", "m0@example.com")
    marker = tmp_path / "pwned"
    flexgit.record(name="evil", params={"framework": "sklearn"},
                   artifacts={"model": hostile_model(tmp_path / "model.pkl", marker)}, repo=attacker)
    assert cli(attacker, "push").code == 0
    assert cli(victim, "pull").code == 0
    return victim, marker


def application(victim, **options):
    config = Experiment().load({"tag": "evil"}, repo=victim).config
    return Application(loader=Loader(config=config), model=Model(config=config), config=config, **options)


@pytest.mark.parametrize("same_identity", [False, True])
def test_a_pulled_model_is_not_unpickled_unless_trusted(tmp_path, same_identity):
    victim, marker = pulled_hostile_run(tmp_path, same_identity)
    with pytest.raises(TrustError, match="not recorded by you in this clone.*trust=True.*flexgit.trustedRuns evil"):
        application(victim).run()
    assert not marker.exists()
    with pytest.raises(TrustError):
        application(victim).load_model()
    assert not marker.exists()


def test_trust_true_or_a_trusted_runs_setting_loads_it(tmp_path):
    victim, marker = pulled_hostile_run(tmp_path)
    with pytest.raises(ArtifactError):  # the bomb is no model: loading it fails, after it ran
        application(victim, trust=True).run()
    assert marker.exists()  # so the refusal above really stood between the user and this
    os.rmdir(marker)
    git(victim, "config", "--add", "flexgit.trustedRuns", "evil")
    with pytest.raises(ArtifactError):
        application(victim).load_model()
    assert marker.exists()


def test_a_run_recorded_here_by_this_user_is_trusted(repo):
    model = Model()
    model.weights = [0.5]
    run = Experiment(loader=Loader(), model=model, config=Configuration([{"name": "mine"}, {}, {}]))
    run.save(repo=repo)
    config = Experiment().load({"tag": "mine"}, repo=repo).config
    app = Application(loader=Loader(), model=Model(), config=config)
    assert app.run() == [1, 2, 3] and app.model.weights == [0.5]


def test_a_config_file_does_not_choose_the_repository(tmp_path, monkeypatch):
    here, elsewhere = make_repo(tmp_path / "here"), make_repo(tmp_path / "elsewhere")
    marker = tmp_path / "pwned"
    flexgit.record(name="evil", artifacts={"model": hostile_model(tmp_path / "model.pkl", marker)}, repo=elsewhere)
    config = Experiment().load({"tag": "evil"}, repo=elsewhere).config
    config.save_config(here / "config.json")
    from_file = Configuration(str(here / "config.json"))
    assert from_file.run.repo is None and from_file.run.name == "evil"
    monkeypatch.chdir(here)
    with pytest.raises(UnknownRunError):  # looked for in the current repository, not in the file's
        Application(loader=Loader(), model=Model(), config=from_file).run()
    assert not marker.exists()
    with pytest.raises(ArtifactError):  # the caller names the repository: its own run, trusted, is loaded
        Application(loader=Loader(), model=Model(), config=from_file, repo=elsewhere).run()
    assert marker.exists()
