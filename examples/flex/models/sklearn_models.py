"""A scikit-learn model; BaseModel's default save/load keep the fitted estimator."""

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from flexgit import BaseModel


class LogisticModel(BaseModel):
    def build(self):
        self.estimator = make_pipeline(StandardScaler(),
                                       LogisticRegression(C=self.config["C"], max_iter=self.config["max_iter"]))

    def predict(self, data):
        features, _ = data
        return self.estimator.predict(features)
