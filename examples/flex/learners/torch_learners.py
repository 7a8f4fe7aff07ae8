"""Training a PyTorch model: full-batch Adam on cross-entropy."""

import torch
from torch import nn

from flexgit import BaseLearner

from .metrics import classification_metrics


class TorchLearner(BaseLearner):
    def train(self, train_data, model):
        features, labels = (torch.as_tensor(train_data[0]), torch.as_tensor(train_data[1]))
        optimizer = torch.optim.Adam(model.network.parameters(), lr=self.config["lr"])
        loss_function = nn.CrossEntropyLoss()
        model.network.train()
        for _ in range(self.config["epochs"]):
            optimizer.zero_grad()
            loss = loss_function(model.network(features), labels)
            loss.backward()
            optimizer.step()

    def test(self, test_data, model):
        return classification_metrics(test_data[1], model.predict(test_data))
