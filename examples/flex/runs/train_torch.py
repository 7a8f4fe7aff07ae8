"""Run and record the same experiment with PyTorch: python -m runs.train_torch (from examples/flex)."""

from configs.custom_config import torch_config
from learners.torch_learners import TorchLearner
from models.torch_models import MLPModel

from runs.training import train_and_save

config = torch_config()
train_and_save(config, model=MLPModel(config=config), learner=TorchLearner(config=config))
