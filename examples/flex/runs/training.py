"""What both training runs share: the same loader and preprocessor, whatever the framework."""

from data.custom_loaders import BreastCancerLoader
from data.custom_preprocessors import LogScale

from flexgit import Experiment


def train_and_save(config, model, learner):
    """Run the experiment with `model` and `learner`, record it under the config's name
    (name-2, name-3, ... when the script runs again)."""
    experiment = Experiment(loader=BreastCancerLoader(config=config), preprocessor=LogScale(config=config),
                            model=model, learner=learner, config=config)
    print("test metrics:", experiment.run())
    run = experiment.save({"branch": "experiments", "tag": config.name}, if_exists="number")
    print(f"recorded {run.name} ({run.short_id})")
