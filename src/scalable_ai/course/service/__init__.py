"""The course's use cases over the database, one module per family.

Each public function is one use case: it takes the request's ``Session`` (one unit of work,
see :func:`scalable_ai.course.db.unit_of_work`), the :class:`Actor` asking, and the course
clock; it checks permission at the gate in :mod:`.actors`, applies the syllabus rules from
:mod:`scalable_ai.course.policy`, writes, and records the change in the audit log. It never
commits: the caller's unit of work does, so a refused request leaves nothing stored.
"""

from scalable_ai.course.service.actors import Actor

__all__ = ["Actor"]
