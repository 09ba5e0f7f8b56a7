"""Use cases of the rest of the course's life over the database, one module per family.

As in :mod:`scalable_ai.course.service`: each function takes the request's ``Session``, the
:class:`~scalable_ai.course.service.Actor` asking and the course clock, checks permission
first, applies the pure rules of :mod:`scalable_ai.course.community`, writes, records the
change in the audit log, and never commits (the caller's unit of work does).
"""
