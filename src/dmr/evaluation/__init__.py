"""Evaluation stage: label maps to the paper's metrics in millimetres and their statistics.

Modules: ``metrics`` (Dice, Jaccard, surface distances; paper Eq. 8-10), ``clinical`` (EDV, ESV,
EF, mass; Eq. 11-12), ``roi`` (LVSC's per-slice confusion measures), ``evaluate`` and
``evaluate_split`` (the drivers that write the tidy metric tables) and ``stats`` (Wilcoxon tests,
bootstrap CIs, agreement). Never imports torch or the networks: scoring jobs stay light.
"""
