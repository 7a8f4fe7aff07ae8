"""Run and record the scikit-learn experiment: python -m runs.train_sklearn (from examples/flex)."""

from configs.custom_config import sklearn_config
from data.custom_loaders import BreastCancerLoader
from data.custom_preprocessors import LogScale
from learners.sklearn_learners import SklearnLearner
from models.sklearn_models import LogisticModel

from flexgit import Experiment

config = sklearn_config()
experiment = Experiment(loader=BreastCancerLoader(config=config), preprocessor=LogScale(config=config),
                        model=LogisticModel(config=config), learner=SklearnLearner(config=config), config=config)
print("test metrics:", experiment.run())
run = experiment.save({"branch": "experiments", "tag": config.name})
print(f"recorded {run.name} ({run.short_id})")
