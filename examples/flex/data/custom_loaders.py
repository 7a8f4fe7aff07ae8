"""A reusable loader: the breast-cancer biopsies data set that scikit-learn ships."""

from flexgit import BaseDataLoader


class BreastCancerLoader(BaseDataLoader):
    """(features, labels) as numpy arrays: 569 biopsies, 30 features, benign (1) or malignant (0)."""

    def load_data(self):
        from sklearn.datasets import load_breast_cancer

        return load_breast_cancer(return_X_y=True)
