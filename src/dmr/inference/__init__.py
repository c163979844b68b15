"""Inference stage: trained models to label maps in each case's original geometry (paper II.F).

One predictor serves cross-validation, held-out, cross-dataset and users' own files, so a
re-prediction of a fold reproduces that fold's metrics. Modules: ``bundle`` (loading and checking
``model.pt``), ``predict`` (``Predictor``: one volume through the training's preprocessing, the
network and back; ``dmr predict``), ``cross_validation`` (each fold's test cases with its own
model, and Table I's timings), ``predict_split`` (a whole split by the K fold models' majority
vote) and ``postprocess`` (largest connected component, voting). Imports the training stage
(checkpoints, precision, devices) and everything below it.
"""
