"""Post analysis for signal-triage: problem report, category, sentiment and a sentence embedding.

Public entry points live in :mod:`classifier.analysis` (``load_analyzer``, ``Analyzer``, ``PostAnalysis``)
and :mod:`classifier.artifact` (``ModelArtifactError``); training in :mod:`classifier.training`.
Importing this package loads no model.
"""
