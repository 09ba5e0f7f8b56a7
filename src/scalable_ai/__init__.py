"""scalable-ai: the Scalable AI course (EE 290/194, Spring 2026) as software.

Two halves share this package: the lab stack (model, parallel, data, train, post, eval,
infer, apps, diffusion) and the course platform (``scalable_ai.course``). They meet in
the run registry (``scalable_ai.runs``).
"""

__version__ = "0.1.0"
