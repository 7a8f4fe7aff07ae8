"""Run and record the same experiment with PyTorch: python -m runs.train_torch (from examples/flex)."""

from configs.custom_config import torch_config
from data.custom_loaders import BreastCancerLoader
from data.custom_preprocessors import LogScale
from learners.torch_learners import TorchLearner
from models.torch_models import MLPModel

from flexgit import Experiment

config = torch_config()
experiment = Experiment(loader=BreastCancerLoader(config=config), preprocessor=LogScale(config=config),
                        model=MLPModel(config=config), learner=TorchLearner(config=config), config=config)
print("test metrics:", experiment.run())
run = experiment.save({"branch": "experiments", "tag": config.name})
print(f"recorded {run.name} ({run.short_id})")
