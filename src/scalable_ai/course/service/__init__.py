"""The course's use cases over the database, one module per family.

Each public function is one use case: it takes the request's ``Session`` (one unit of work,
see :func:`scalable_ai.course.db.unit_of_work`), the :class:`Actor` asking, and the course
clock (``clock=``); it checks permission at the gate in :mod:`.actors`, applies the syllabus
rules from :mod:`scalable_ai.course.policy`, writes, and records the change in the audit log.
It never commits: the caller's unit of work does, so a refused request leaves nothing stored.
A refusal is a :class:`~scalable_ai.errors.UserError` (``NotFound`` 404, ``Forbidden`` 403,
``Conflict`` 409) whose message names the rule. On SQLite a caller that will write takes the
write lock first (``unit_of_work(..., write=True)``); the lock helpers here also take it.

- :mod:`.actors`: ``Actor`` (``Actor.of(person)``, ``Actor.local_staff()``), the permission gate
- :mod:`.people`: add, find, show, list, update people; roster import; password hashes
- :mod:`.credentials`: web sessions, API tokens, calendar feed tokens, SSH keys
- :mod:`.setup`: ``init_course`` from spec data, ``course_spec``, lecture moves, settings
- :mod:`.course`: the course, its settings and lookups (assignment, milestone, lecture, node)
- :mod:`.groups`: create, invite, answer, leave, propose, confirm (+ node), move, list
- :mod:`.nodes`: the node pool, reservations (request, consent, cancel, plan), authorized_keys
- :mod:`.slack`: the slack-day ledger (spend, reverse, balance) and approved exceptions
- :mod:`.submissions`: ``submit`` (with the late policy), lists, per-student deadlines
- :mod:`.grades`: record scores (per student or group), grade reports, the grade book
- :mod:`.activities`: scribes, peer reviews, sign-up slots
- :mod:`.scribe_moves`: staff move one scribe by hand (warned when a lecture is left empty)
- :mod:`.peer_review_submissions`: the structured peer review (read the draft, submit, read)
- :mod:`.peer_feedback`: the peer score in the grade (technical quality) and staff's summary
- :mod:`.schedule`: events, the course and personal iCalendar feeds, the Markdown schedule
"""

from scalable_ai.course.service.actors import Actor

__all__ = ["Actor"]
