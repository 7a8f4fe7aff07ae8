"""Training a scikit-learn model: fit, then score on the test part."""

from flexgit import BaseLearner

from .metrics import classification_metrics


class SklearnLearner(BaseLearner):
    def train(self, train_data, model):
        features, labels = train_data
        model.estimator.fit(features, labels)

    def test(self, test_data, model):
        return classification_metrics(test_data[1], model.predict(test_data))
