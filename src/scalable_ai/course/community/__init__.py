"""The rest of the course's life on the platform (issue 5): the onboarding questionnaire and
group proposals, Q&A with announcements and infrastructure tickets ("Ed only"), lecture-note
feedback and scribe notes, the participation ledger, assignment enhancements, research
directions, project deliverables with impact evidence, and the public course site.

Pure rules live in modules without I/O (:mod:`.grouping`, :mod:`.questions`,
:mod:`.forum_rules`, :mod:`.participation_rules`, :mod:`.project_rules`,
:mod:`.markdown`); the use cases over the database in :mod:`.service`.
"""
