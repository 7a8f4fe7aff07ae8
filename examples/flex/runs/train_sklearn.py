"""Run and record the scikit-learn experiment: python -m runs.train_sklearn (from examples/flex)."""

from configs.custom_config import sklearn_config
from learners.sklearn_learners import SklearnLearner
from models.sklearn_models import LogisticModel

from runs.training import train_and_save

config = sklearn_config()
train_and_save(config, model=LogisticModel(config=config), learner=SklearnLearner(config=config))
