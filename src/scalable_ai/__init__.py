"""scalable-ai: the Scalable AI course (EE 290/194, Spring 2026) as software.

Two halves share this package: the lab stack (``model``, ``data``, ``train``, ``parallel``,
``infer``) and the course platform (``scalable_ai.course``, with the assignment ``kits``).
They meet in the run registry (``scalable_ai.runs``). ``docs/architecture.md`` is the map.
"""

__version__ = "0.1.0"
