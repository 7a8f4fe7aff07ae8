"""A reusable preprocessor: log-scale the (non-negative) features, as float32 for any framework."""

import numpy as np

from flexgit import BaseDataPreprocessor


class LogScale(BaseDataPreprocessor):
    """Per-sample, so nothing learnt from the test part leaks into training."""

    def preprocess_data(self, raw):
        features, labels = raw
        return np.log1p(features).astype(np.float32), labels
