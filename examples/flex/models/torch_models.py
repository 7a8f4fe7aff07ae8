"""A PyTorch model (CPU); save/load use torch's own state_dict format."""

import torch
from torch import nn

from flexgit import BaseModel


class MLPModel(BaseModel):
    def build(self):
        torch.manual_seed(self.config["seed"])
        self.network = nn.Sequential(nn.BatchNorm1d(30), nn.Linear(30, self.config["hidden"]), nn.ReLU(),
                                     nn.Linear(self.config["hidden"], 2))

    def predict(self, data):
        features, _ = data
        self.network.eval()
        with torch.no_grad():
            return self.network(torch.as_tensor(features)).argmax(dim=1).numpy()

    def save(self, path):
        torch.save(self.network.state_dict(), path)

    def load(self, path):
        self.build()
        self.network.load_state_dict(torch.load(path, weights_only=True))
