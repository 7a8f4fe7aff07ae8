"""Serve a recorded run as an Application: python -m runs.serve NAME (from examples/flex).

The run's Configuration comes back from git and tells the Application where the trained
model is; the loader and preprocessor are the same reusable components as in training.
"""

import sys

from data.custom_loaders import BreastCancerLoader
from data.custom_preprocessors import LogScale
from learners.metrics import classification_metrics

from flexgit import Application, Experiment

experiment = Experiment().load({"branch": "experiments", "tag": sys.argv[1]})
config = experiment.config
if config.framework == "torch":
    from models.torch_models import MLPModel as Model
else:
    from models.sklearn_models import LogisticModel as Model

app = Application(loader=BreastCancerLoader(config=config), preprocessor=LogScale(config=config),
                  model=Model(config=config), config=config)
predictions = app.run()
labels = BreastCancerLoader(config=config).load_data()[1]
accuracy = classification_metrics(labels, predictions)["accuracy"]
print(f"{len(predictions)} predictions; accuracy on the whole data set {accuracy}")
