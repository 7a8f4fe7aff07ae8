"""Autologging for the frameworks people train with: scikit-learn, PyTorch Lightning, Hugging Face
Transformers, Keras, Optuna, Hydra, and Jupyter notebooks, each in its own module, each through its
framework's documented extension point, each importing its framework only when used.
"""
