"""Metrics shared by the learners, in plain numpy."""

import numpy as np


def classification_metrics(labels, predicted) -> dict:
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    true_positive = float(((predicted == 1) & (labels == 1)).sum())
    precision = true_positive / max(float((predicted == 1).sum()), 1.0)
    recall = true_positive / max(float((labels == 1).sum()), 1.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": round(float((predicted == labels).mean()), 6), "f1": round(f1, 6)}
