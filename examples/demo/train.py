"""A small real training job: classify breast-cancer biopsies (a data set scikit-learn ships).

Reads its hyper-parameters from params.toml, writes its results to metrics.json.
"""

import json
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

import flexgit
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

with open("params.toml", "rb") as handle:
    params = tomllib.load(handle)

features, labels = load_breast_cancer(return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(
    features, labels, test_size=params["test_size"], random_state=params["seed"], stratify=labels)

if params["model"] == "logreg":
    model = make_pipeline(StandardScaler(), LogisticRegression(C=params["C"], max_iter=2000))
else:
    model = RandomForestClassifier(n_estimators=params["n_estimators"], max_depth=params["max_depth"],
                                   random_state=params["seed"])
# A learning curve: test accuracy as the model sees more of the training set, logged step by step
# (the report and `flexgit plot` draw it).
for fraction in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
    size = int(len(x_train) * fraction)
    model.fit(x_train[:size], y_train[:size])
    flexgit.log(step=size, accuracy=float(model.score(x_test, y_test)))
model.fit(x_train, y_train)
predicted = model.predict(x_test)
flexgit.log(step=len(x_train), accuracy=float((predicted == y_test).mean()))

metrics = {"accuracy": round(float((predicted == y_test).mean()), 6),
           "f1": round(float(f1_score(y_test, predicted)), 6)}
with open("metrics.json", "w") as handle:
    json.dump(metrics, handle)
print(f"{params['model']}: accuracy={metrics['accuracy']:.4f} f1={metrics['f1']:.4f}")
