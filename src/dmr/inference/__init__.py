"""Inference stage: trained models to label maps in each case's original geometry (paper II.F).

One predictor serves cross-validation, held-out, cross-dataset and users' own files, so a
re-prediction of a fold reproduces that fold's metrics. Modules: ``predict`` (``Predictor``: one
volume through the training's preprocessing, the network and back), ``predict_split`` (a whole
split by the K fold models' majority vote) and ``postprocess`` (largest connected component,
voting). Imports the training stage (checkpoints, precision, devices) and everything below it.
"""
