"""Assignment kits and their grading (assignments A1–A5).

- ``kit.py``: a kit folder (``assignments/A4``) and its ``kit.toml``;
- ``plugin.py``: the pytest plugin that gives tests points and visibility (one format for
  students and the grader);
- ``sandbox.py``: bubblewrap with time, memory, process and output limits;
- ``submission.py``: a folder, zip or local git repository, fetched safely;
- ``grade.py``: runs a kit's tests on a submission in the sandbox;
- ``results.py``: Gradescope's ``results.json``, built and validated;
- ``bundle.py``: the student bundle and the Gradescope autograder zip;
- ``rubric.py``: conceptual questions with Gradescope-style rubrics;
- ``timing.py``: performance checks as same-run ratios.

``sai kit list | build | grade`` is the command line (``cli.py``).
"""
