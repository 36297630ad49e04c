"""``driftline demo``: a model trained on real flights, served through the SDK, watched drifting.

Modules: ``data`` (the flights and their weather), ``model`` (logistic regression),
``shift`` (the drift the data really has), ``sidecar`` (the child process), ``receiver``
(the alert webhook), ``replay``, ``progress``, ``summary`` and ``display`` (what is
printed), ``session`` and ``run`` (the orchestration), ``command`` (the subcommand).
Importing this package imports none of them.
"""
